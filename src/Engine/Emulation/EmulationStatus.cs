namespace VmReplay.Engine.Emulation;

/// <summary>What the userspace emulator did with the instruction at RIP.</summary>
public enum EmulationStatus
{
    /// <summary>Executed; RIP is past it.</summary>
    Emulated,
    /// <summary>The instruction raised an exception, now injected into the vCPU as the CPU would deliver it.</summary>
    ExceptionRaised,
    /// <summary>Outside the emulated set, or a case of it that is not handled; the state is untouched.</summary>
    NotEmulated,
}
