using System.Buffers.Binary;
using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Pci;

/// <summary>
/// PCI configuration mechanism 1 at 0xCF8-0xCFF (PCI Local Bus Specification 3.0, 3.2.2.3.2):
/// CONFIG_ADDRESS latched by 32-bit writes to 0xCF8, CONFIG_DATA at 0xCFC-0xCFF. Bus 0,
/// device 0, function 0 is the host bridge (Intel 440FX ids, as QEMU's); every other function
/// is absent and reads all-ones.
/// </summary>
public sealed class PciHostBridge : IBusDevice, IStatefulDevice<PciHostBridgeState>
{
    private const ushort VendorIntel = 0x8086, Device440Fx = 0x1237;
    private uint _address;
    private ushort _command;
    private byte _latency;

    public void Read(ulong offset, Span<byte> data)
    {
        if (offset < 4)
        {
            Span<byte> a = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(a, _address);
            for (int i = 0; i < data.Length; i++) data[i] = offset + (ulong)i < 4 ? a[(int)offset + i] : (byte)0xFF;
            return;
        }
        uint dword = ReadConfigDword();
        int shift = (int)(offset - 4) * 8;
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(dword >> (shift + 8 * i));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == 0 && data.Length == 4)
        {
            _address = BinaryPrimitives.ReadUInt32LittleEndian(data) & 0x80FF_FFFC;
            return;
        }
        if (offset < 4 || !Selected(out int register)) return; // only a dword write latches the address
        int at = register + (int)(offset - 4);
        for (int i = 0; i < data.Length; i++) WriteBridgeByte(at + i, data[i]);
    }

    private bool Selected(out int register)
    {
        register = (int)(_address & 0xFC);
        bool enabled = (_address & 0x8000_0000) != 0;
        uint busDevFn = (_address >> 8) & 0xFFFF;
        return enabled && busDevFn == 0; // bus 0, device 0, function 0
    }

    private uint ReadConfigDword()
    {
        if (!Selected(out int register)) return 0xFFFF_FFFF;
        return register switch
        {
            0x00 => (uint)Device440Fx << 16 | VendorIntel,
            0x04 => _command | (uint)0x0280 << 16,             // status: medium DEVSEL, fast back-to-back
            0x08 => 0x0600_0002,                              // class 06 (bridge) / 00 (host), revision 2
            0x0C => (uint)_latency << 8,                      // header type 0, single function
            _ => 0,
        };
    }

    private void WriteBridgeByte(int register, byte value)
    {
        switch (register)
        {
            case 0x04: _command = (ushort)((_command & 0xFF00) | (value & 0x46)); break; // memory, master, parity
            case 0x05: _command = (ushort)((_command & 0x00FF) | (value & 0x01) << 8); break; // SERR#
            case 0x0D: _latency = value; break;
        }
    }

    public PciHostBridgeState SaveState() => new(_address, _command, _latency);

    public void RestoreState(PciHostBridgeState state)
    {
        _address = state.ConfigAddress;
        _command = state.BridgeCommand;
        _latency = state.BridgeLatency;
    }
}
