using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// QEMU's isa-debug-exit (hw/misc/debugexit.c; at 0xF4, four ports, on a PC): a write of any
/// width 1-4 at any offset passes the value written to the exit callback, and the VMM ends with
/// process exit status (v &lt;&lt; 1) | 1, so test guests written for QEMU run unchanged. Reads
/// return 0, as QEMU's <c>debug_exit_read</c> does (guests use that to tell the device is there,
/// since an absent port reads all-ones).
/// </summary>
public sealed class DebugExitPort : IBusDevice, IStatefulDevice<DebugExitPortState>
{
    private readonly Action<uint> _exit;

    /// <param name="exit">Called with the value written (little endian, as wide as the access).</param>
    public DebugExitPort(Action<uint> exit) => _exit = exit;

    public void Read(ulong offset, Span<byte> data) => data.Clear();

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        uint v = 0;
        for (int i = Math.Min(data.Length, 4) - 1; i >= 0; i--) v = v << 8 | data[i];
        _exit(v);
    }

    /// <remarks>The port has no state; the record exists so every device snapshots alike.</remarks>
    public DebugExitPortState SaveState() => new();

    public void RestoreState(DebugExitPortState state) { }
}
