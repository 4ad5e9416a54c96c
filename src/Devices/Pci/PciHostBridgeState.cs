namespace VmReplay.Devices.Pci;

/// <summary>State of a <see cref="PciHostBridge"/>: CONFIG_ADDRESS and the host bridge function's writable registers.</summary>
public sealed record PciHostBridgeState
{
    public uint ConfigAddress { get; init; }
    public ushort BridgeCommand { get; init; }
    public byte BridgeLatencyTimer { get; init; }
}
