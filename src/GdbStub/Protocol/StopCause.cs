namespace VmReplay.GdbStub.Protocol;

/// <summary>Why the target stopped, as far as gdb needs to know in a stop reply.</summary>
public enum StopCause
{
    None,
    SoftwareBreak,
    HardwareBreak,
    Watch,
    ReadWatch,
    AccessWatch,
    /// <summary>Reverse execution reached the start of the recording.</summary>
    ReplayBegin,
    /// <summary>Forward execution reached the end of the recording.</summary>
    ReplayEnd,
}
