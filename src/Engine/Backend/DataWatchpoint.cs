namespace VmReplay.Engine.Backend;

/// <summary>
/// A linear range whose accesses end a run: reads, writes or both (a debugger's rwatch, watch,
/// awatch). Only a backend with <see cref="IVcpuBackend.DataWatchpoints"/> honours them.
/// </summary>
public readonly record struct DataWatchpoint(ulong Linear, int Length, bool Reads, bool Writes)
{
    /// <summary>
    /// The linear pages (4 KiB aligned) a watched range of <paramref name="length"/> bytes at
    /// <paramref name="linear"/> lies on: where a backend compares accesses with it, and so the
    /// pages a debugger asks a page log about.
    /// </summary>
    public static IEnumerable<ulong> PagesOf(ulong linear, int length)
    {
        for (ulong page = linear & ~0xFFFUL; page <= ((linear + (ulong)Math.Max(1, length) - 1) & ~0xFFFUL); page += 0x1000)
            yield return page;
    }
}

/// <summary>
/// The access that ended a run at a data watchpoint: the watchpoint's index in the
/// <see cref="DebugSetup"/>, the accessed linear address and size, and whether it was a write,
/// then with the bytes there before and the value written (a debugger's `watch` stops only for a
/// write that changes the value). The accessing instruction has retired (as a debug-register data
/// breakpoint traps after it). A class: the run loop's stops and a delivery's result carry one
/// only rarely, and as a nullable struct it made each of them 48 bytes larger.
/// </summary>
public sealed record DataWatchpointHit(int Index, ulong Linear, int Size, bool IsWrite, ulong OldValue = 0, ulong NewValue = 0)
{
    /// <summary>Whether the access changed the bytes it touched.</summary>
    public bool Changed => IsWrite && Masked(OldValue) != Masked(NewValue);

    private ulong Masked(ulong v) => Size >= 8 ? v : v & ((1UL << (8 * Size)) - 1);
}
