namespace VmReplay.Engine.Memory;

/// <summary>
/// The one reader of a VM's dirty-page log. KVM clears its log on every read, so several
/// consumers (the hash of a forced service point, the pages of the next incremental snapshot)
/// each get their own <see cref="DirtyPageTracker"/> and this fans every read out to all of them.
/// Pages the VMM wrote itself are folded in too. The guest's writes come from the backend
/// (KVM's dirty-page log, or the software CPU's own record).
/// </summary>
public sealed class DirtyLog
{
    private readonly Action<int, Span<ulong>> _takeGuestWrites;
    private readonly ulong[][] _scratch;
    private readonly List<DirtyPageTracker> _trackers = new();
    // Where the log sees every write to RAM from the moment RAM was all zeros: every page
    // written or restored since RAM was last all zeros (when it was made, or _clears zeroings of
    // RAM ago), which holds every page that is not all zeros. Null where the log cannot say so.
    private readonly ulong[][]? _sinceZero;
    private int _clears;

    /// <param name="takeGuestWrites">Puts the pages the guest wrote in RAM region i since the last call into the bitmap (and forgets them).</param>
    /// <param name="memory">The VM's RAM.</param>
    /// <param name="seesEveryWrite">
    /// Whether the log is made while RAM is still all zeros and from then on sees every write to
    /// it (the software CPU's own record): then <see cref="NonZeroPages"/> needs no scan of RAM.
    /// </param>
    public DirtyLog(Action<int, Span<ulong>> takeGuestWrites, GuestMemory memory, bool seesEveryWrite = false)
    {
        _takeGuestWrites = takeGuestWrites;
        Memory = memory;
        _scratch = memory.Regions.Select(r => new ulong[BitmapWords(r)]).ToArray();
        if (seesEveryWrite)
        {
            _sinceZero = memory.Regions.Select(r => new ulong[BitmapWords(r)]).ToArray();
            _clears = memory.Clears;
        }
    }

    public GuestMemory Memory { get; }

    internal static int BitmapWords(GuestMemoryRegion r) => (int)((r.Size / GuestMemory.PageSize + 63) / 64);

    /// <summary>A new tracker of the pages written from now on.</summary>
    public DirtyPageTracker CreateTracker()
    {
        Collect();
        var t = new DirtyPageTracker(this);
        _trackers.Add(t);
        return t;
    }

    /// <summary>Reads (and so clears) KVM's log and the VMM's own writes into every tracker.</summary>
    public void Collect()
    {
        // RAM was zeroed since the last look: only what was written or restored since (and what
        // was not collected before it, which is more than needed, never less) can be non-zero.
        if (_sinceZero is not null && _clears != Memory.Clears)
        {
            foreach (var bits in _sinceZero) Array.Clear(bits);
            _clears = Memory.Clears;
        }
        for (int i = 0; i < _scratch.Length; i++)
        {
            _scratch[i].AsSpan().Clear();
            _takeGuestWrites(i, _scratch[i]);
            Memory.TakeVmmWritten(i, _scratch[i]);
            foreach (var t in _trackers) t.Merge(i, _scratch[i]);
            if (_sinceZero is not null)
            {
                var since = _sinceZero[i];
                for (int w = 0; w < since.Length; w++) since[w] |= _scratch[i][w];
                Memory.TakeRestored(i, since);
            }
        }
    }

    /// <summary>
    /// Every page of RAM that is not all zeros, in address order, as <see cref="GuestMemory.NonZeroPages"/>
    /// finds them; where the log sees every write, from the pages written or restored since RAM
    /// was all zeros instead of a scan of the pages the host populated (/proc/self/pagemap: for
    /// the 64 MiB of a small guest, 0.15 ms of a recording's first snapshot, and again at the end
    /// of a recording and of a replay).
    /// </summary>
    public List<ulong> NonZeroPages()
    {
        Collect();
        return _sinceZero is null ? Memory.NonZeroPages() : Memory.KeepNonZero(PagesIn(_sinceZero, Memory.Regions));
    }

    /// <summary>Guest-physical addresses of the pages set in per-region bitmaps, ascending.</summary>
    internal static List<ulong> PagesIn(ulong[][] bitmaps, IReadOnlyList<GuestMemoryRegion> regions)
    {
        var pages = new List<ulong>();
        for (int i = 0; i < bitmaps.Length; i++)
            for (int w = 0; w < bitmaps[i].Length; w++)
                for (ulong bits = bitmaps[i][w]; bits != 0; bits &= bits - 1)
                    pages.Add(regions[i].GuestBase + (ulong)(w * 64 + System.Numerics.BitOperations.TrailingZeroCount(bits)) * GuestMemory.PageSize);
        return pages;
    }

    /// <summary>Forgets every page written so far, in every tracker (after a snapshot was restored).</summary>
    public void Discard()
    {
        Collect();
        foreach (var t in _trackers) t.ClearPages();
    }
}
