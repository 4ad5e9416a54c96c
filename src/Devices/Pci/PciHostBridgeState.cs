namespace VmReplay.Devices.Pci;

/// <summary>State of a <see cref="PciHostBridge"/>: CONFIG_ADDRESS and the host bridge function's writable registers.</summary>
public sealed record PciHostBridgeState
{
    public uint ConfigAddress { get; init; }
    public ushort BridgeCommand { get; init; }
    public byte BridgeLatencyTimer { get; init; }

    /// <summary>
    /// CONFIG_ADDRESS in hex and decoded (enable bit 31, bus, device, function, register), then
    /// the 440FX host bridge's writable registers: PCICMD and the latency timer.
    /// </summary>
    public string Describe()
    {
        string selected = (ConfigAddress & 0x8000_0000) == 0
            ? "disabled"
            : $"{ConfigAddress >> 16 & 0xFF:x2}:{ConfigAddress >> 11 & 0x1F:x2}.{ConfigAddress >> 8 & 7} register {ConfigAddress & 0xFC:x2}";
        return $"CONFIG_ADDRESS {ConfigAddress:x8} ({selected}); host bridge 00:00.0 PCICMD {BridgeCommand:x4}, latency timer {BridgeLatencyTimer:x2}";
    }
}
