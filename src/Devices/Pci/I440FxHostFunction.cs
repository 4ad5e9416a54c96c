namespace VmReplay.Devices.Pci;

/// <summary>
/// The host bridge function at 00:00.0, with the identity of the Intel 82441FX PMC (440FX), as
/// QEMU's pc machine presents it: vendor 0x8086, device 0x1237, revision 2, class 06/00/00 (host
/// bridge), header type 0, single function. Only the command register's implemented bits and the
/// latency timer are writable; the chipset's own registers (PAM, SMRAM, DRAM rows) read 0.
/// </summary>
internal sealed class I440FxHostFunction : IPciFunction
{
    // PCI Local Bus Specification 3.0, 6.1 (type 0 header); Intel 82441FX datasheet, PCICMD/PCISTS.
    private const uint VendorIntel = 0x8086, Device440Fx = 0x1237, Revision = 0x02, ClassHostBridge = 0x06_00_00;
    private const ushort CommandWritable = 0x0146;     // memory space, bus master, parity error response, SERR#
    private const ushort Status = 0x0280;              // medium DEVSEL timing, fast back-to-back capable
    private const int RegId = 0x00, RegCommand = 0x04, RegClass = 0x08, RegHeader = 0x0C;

    public ushort Command { get; set; }

    public byte LatencyTimer { get; set; }

    public uint ReadConfig(int register) => register switch
    {
        RegId => Device440Fx << 16 | VendorIntel,
        RegCommand => (uint)Status << 16 | Command,
        RegClass => ClassHostBridge << 8 | Revision,
        RegHeader => (uint)LatencyTimer << 8, // BIST 0, header type 0, cache line size 0
        _ => 0,
    };

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            int at = offset + i;
            byte v = data[i];
            if (at == RegCommand) Command = (ushort)(Command & 0xFF00 | v & CommandWritable);
            else if (at == RegCommand + 1) Command = (ushort)(Command & 0x00FF | (v << 8) & CommandWritable);
            else if (at == RegHeader + 1) LatencyTimer = v;
            // Status bits are write-1-to-clear and none is ever set; everything else is read-only.
        }
    }
}
