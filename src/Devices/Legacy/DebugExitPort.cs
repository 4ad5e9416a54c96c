using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// QEMU's isa-debug-exit (at 0xF4, 4 ports): writing v ends the VM with exit status (v &lt;&lt; 1) | 1,
/// so test guests written for QEMU work unchanged. Reads return all-ones, as an absent port.
/// </summary>
public sealed class DebugExitPort(Action<uint> exit) : IBusDevice
{
    public void Read(ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        uint v = 0;
        for (int i = data.Length - 1; i >= 0; i--) v = v << 8 | data[i];
        exit(v);
    }
}
