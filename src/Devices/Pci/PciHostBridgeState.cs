namespace VmReplay.Devices.Pci;

/// <summary>State of the configuration mechanism and the host bridge's writable registers.</summary>
public sealed record PciHostBridgeState(uint ConfigAddress, ushort BridgeCommand, byte BridgeLatency);
