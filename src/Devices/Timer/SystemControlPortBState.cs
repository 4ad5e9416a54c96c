namespace VmReplay.Devices.Timer;

/// <summary>State of port 0x61 beyond what the PIT holds.</summary>
public sealed record SystemControlPortBState(bool RefreshToggle);
