namespace VmReplay.Devices.Legacy;

/// <summary>State of a <see cref="DebugExitPort"/>: there is none.</summary>
public sealed record DebugExitPortState
{
    /// <summary>The port only passes a written value on; it says so, so every device describes itself alike.</summary>
    public string Describe() => "no state (a write ends the VM)";
}
