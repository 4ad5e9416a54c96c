namespace VmReplay.Devices.Legacy;

/// <summary>State of a <see cref="DebugExitPort"/>: there is none.</summary>
public sealed record DebugExitPortState;
