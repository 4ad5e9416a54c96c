namespace VmReplay.Devices.Legacy;

/// <summary>State of the i8042 controller.</summary>
public sealed record I8042State(byte Status, byte Config, byte? Output, byte? PendingCommand, byte OutputPort);
