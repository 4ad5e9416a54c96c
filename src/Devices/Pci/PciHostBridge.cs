using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Pci;

/// <summary>
/// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2), registered over
/// eight ports (0xCF8-0xCFF): CONFIG_ADDRESS at offset 0, latched only by a 32-bit write (bit 31
/// enable, bus 23:16, device 15:11, function 10:8, register 7:2); CONFIG_DATA at offsets 4-7,
/// where a byte, word or dword access reaches the bytes of the selected dword at that offset.
/// Bus 0, device 0, function 0 is the host bridge itself (440FX identity); further functions
/// are added with <see cref="Attach"/>. An absent function, or any data access while the enable
/// bit is clear, reads all-ones and ignores writes, as a master abort does.
/// </summary>
/// <remarks>
/// Accesses to 0xCF8-0xCFB other than a 32-bit one are not CONFIG_ADDRESS accesses (the
/// specification passes them on as ordinary I/O); nothing answers them here, so they read
/// all-ones and writes are dropped. The PIIX reset control register at 0xCF9 is not modelled.
/// </remarks>
public sealed class PciHostBridge : IBusDevice, IStatefulDevice<PciHostBridgeState>
{
    private const uint Enable = 0x8000_0000;
    private const uint AddressWritable = 0x80FF_FFFC; // bits 30:24 reserved, 1:0 read as 0
    private const int DataOffset = 4;

    private readonly I440FxHostFunction _host = new();
    private readonly Dictionary<PciAddress, IPciFunction> _functions = new();
    private uint _address;

    public PciHostBridge() => _functions[new PciAddress(0, 0, 0)] = _host;

    /// <summary>
    /// Puts <paramref name="function"/> at <paramref name="address"/>. Its state is its owner's to
    /// snapshot. Throws if the slot is taken (a platform wiring bug).
    /// </summary>
    public void Attach(PciAddress address, IPciFunction function)
    {
        if (!_functions.TryAdd(address, function))
            throw new InvalidOperationException($"PCI function {address} is already present");
    }

    public void Read(ulong offset, Span<byte> data)
    {
        if (offset < DataOffset)
        {
            if (offset == 0 && data.Length == 4) BinaryPrimitives.WriteUInt32LittleEndian(data, _address);
            else data.Fill(0xFF);
            return;
        }
        uint dword = Selected(out var function, out int register) ? function.ReadConfig(register) : 0xFFFF_FFFF;
        for (int i = 0; i < data.Length; i++)
        {
            int at = (int)offset - DataOffset + i;
            data[i] = at < 4 ? (byte)(dword >> 8 * at) : (byte)0xFF;
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset < DataOffset)
        {
            if (offset == 0 && data.Length == 4) _address = BinaryPrimitives.ReadUInt32LittleEndian(data) & AddressWritable;
            return;
        }
        if (!Selected(out var function, out int register)) return;
        int at = (int)offset - DataOffset;
        function.WriteConfig(register + at, data[..Math.Min(data.Length, 4 - at)]);
    }

    private bool Selected([NotNullWhen(true)] out IPciFunction? function, out int register)
    {
        register = (int)(_address & 0xFC);
        var address = new PciAddress((int)(_address >> 16 & 0xFF), (int)(_address >> 11 & 0x1F), (int)(_address >> 8 & 7));
        function = null;
        return (_address & Enable) != 0 && _functions.TryGetValue(address, out function);
    }

    public PciHostBridgeState SaveState() => new()
    {
        ConfigAddress = _address, BridgeCommand = _host.Command, BridgeLatencyTimer = _host.LatencyTimer,
    };

    public void RestoreState(PciHostBridgeState state)
    {
        _address = state.ConfigAddress & AddressWritable;
        _host.Command = state.BridgeCommand;
        _host.LatencyTimer = state.BridgeLatencyTimer;
    }
}
