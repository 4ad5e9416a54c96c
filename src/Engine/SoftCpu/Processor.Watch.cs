namespace VmReplay.Engine.SoftCpu;

/// <summary>What a data watchpoint catches.</summary>
[Flags]
public enum WatchAccess
{
    Read = 1,
    Write = 2,
    Any = Read | Write,
}

/// <summary>A linear range the processor watches.</summary>
public readonly record struct DataWatch(ulong Linear, int Length, WatchAccess Access);

/// <summary>
/// The access that made the last run stop with <see cref="ProcessorExitKind.Watchpoint"/>:
/// which watch, the accessed linear address and size, and whether it was a write (then with the
/// bytes that were there before and the value written).
/// </summary>
public readonly record struct WatchHit(int Watch, ulong Linear, int Size, bool IsWrite, ulong OldValue, ulong NewValue);

/// <summary>
/// Data watchpoints, exact and at full speed: the pages that hold a watched range get no TLB
/// entries for the kind of access watched there (reads, writes or both), so every such access
/// takes the slow path, which compares it with the ranges. A hit ends the run after the
/// accessing instruction retires, as a debug-register data breakpoint traps; every other access
/// keeps its one-compare fast path.
/// </summary>
public sealed partial class Processor
{
    private DataWatch[] _watches = [];
    // The pages that hold a watched range: a few, looked through on every slow-path access (a
    // HashSet's lookup was a sixth of a reverse-continue that watched a busy loop's variable).
    // Kept apart as the pages a read watch (rwatch, awatch) covers and the pages a write watch
    // (watch, awatch) covers: an access the page's watches cannot catch keeps the TLB's fast
    // path. A reverse-continue watching a variable for writes on the page a busy loop polls
    // (the ticks guest's `limit`, beside `ticks`) took the slow path at every poll.
    private ulong[] _readWatchedPages = [], _writeWatchedPages = [];

    /// <summary>The last watch hit (valid after a <see cref="ProcessorExitKind.Watchpoint"/> exit).</summary>
    public WatchHit LastWatchHit { get; private set; }

    /// <summary>Watches <paramref name="watches"/> from now on (an empty list stops watching).</summary>
    public void SetWatches(IReadOnlyList<DataWatch> watches)
    {
        _watches = watches.ToArray();
        _readWatchedPages = PagesOf(_watches, WatchAccess.Read);
        _writeWatchedPages = PagesOf(_watches, WatchAccess.Write);
        FlushTlb();
    }

    /// <summary>
    /// Delivers an external interrupt (<see cref="DeliverExternalInterrupt"/>) and returns in
    /// <paramref name="watched"/> the watched access its frame push made, if any: a delivery runs
    /// outside <see cref="Run"/>, so its hit cannot end a run.
    /// </summary>
    public string? DeliverExternalInterrupt(byte vector, out WatchHit? watched)
    {
        // The last run's hit was reported with its exit; it must not hide the delivery's own.
        if (Exit.Kind == ProcessorExitKind.Watchpoint) Exit.Clear();
        string? failure = DeliverExternalInterrupt(vector);
        watched = null;
        if (Exit.Kind == ProcessorExitKind.Watchpoint)
        {
            watched = LastWatchHit;
            Exit.Clear();
            _exitAfterInstruction = false;
        }
        return failure;
    }

    // What the engine's shared emulation (interrupt delivery, IRET, far transfers through it)
    // reports of its accesses, while anything is watched.
    // (And, while pages are collected, the pages it reads and writes.)
    private Action<ulong, int, bool, ulong>? WatchObserver => _watches.Length > 0 || _writtenPages is not null ? _watchObserver ??= ObserveAccess : null;
    private Action<ulong, int, bool, ulong>? _watchObserver;

    private void ObserveAccess(ulong la, int size, bool write, ulong value)
    {
        la &= LinearMask;
        NoteAccess(la, size, write);
        // A descriptor or frame read of more than 8 bytes is compared in 8-byte pieces.
        for (int at = 0; at < size; at += 8)
            if (IsWatchedPage(la + (ulong)at, write) || IsWatchedPage(la + (ulong)Math.Min(size, at + 8) - 1, write))
                CheckWatch(la + (ulong)at, Math.Min(8, size - at), write, at == 0 ? value : 0);
    }

    // The pages that hold a range watched for any of `access`.
    private static ulong[] PagesOf(DataWatch[] watches, WatchAccess access) =>
        [.. watches.Where(w => (w.Access & access) != 0).SelectMany(w => Backend.DataWatchpoint.PagesOf(w.Linear, w.Length)).Distinct().Order()];

    // Whether a read (or a write) of `la` may hit a watch.
    private bool IsWatchedPage(ulong la, bool write) => Holds(write ? _writeWatchedPages : _readWatchedPages, la);

    private static bool Holds(ulong[] pages, ulong la)
    {
        ulong page = la & PageMask;
        foreach (ulong watched in pages)
            if (watched == page) return true;
        return false;
    }

    // Called on the slow path of an access to a watched page, before a write stores.
    private void CheckWatch(ulong la, int size, bool write, ulong value)
    {
        for (int i = 0; i < _watches.Length; i++)
        {
            var w = _watches[i];
            if ((w.Access & (write ? WatchAccess.Write : WatchAccess.Read)) == 0) continue;
            if (la >= w.Linear + (ulong)w.Length || w.Linear >= la + (ulong)size) continue;
            // The first hit of an instruction is the one reported; the instruction completes.
            if (Exit.Kind == ProcessorExitKind.Watchpoint) return;
            ulong old = write ? PeekLinear(la, size) : 0;
            LastWatchHit = new WatchHit(i, la, size, write, old, write ? value : 0);
            Exit.Set(ProcessorExitKind.Watchpoint, la, size);
            _exitAfterInstruction = true;
            return;
        }
    }

    // The bytes at a watched address before a write (the page is mapped: the write's translation succeeded).
    private ulong PeekLinear(ulong la, int size)
    {
        ulong v = 0;
        Span<byte> b = stackalloc byte[1];
        for (int i = 0; i < size; i++)
        {
            ulong pa = Translate((la + (ulong)i) & LinearMask, VmReplay.Engine.Memory.PageAccess.Read);
            v |= (ulong)(_memory.TryRead(pa, b) ? b[0] : 0) << (8 * i);
        }
        return v;
    }
}
