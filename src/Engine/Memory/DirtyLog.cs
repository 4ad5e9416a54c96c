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

    /// <param name="takeGuestWrites">Puts the pages the guest wrote in RAM region i since the last call into the bitmap (and forgets them).</param>
    public DirtyLog(Action<int, Span<ulong>> takeGuestWrites, GuestMemory memory)
    {
        _takeGuestWrites = takeGuestWrites;
        Memory = memory;
        _scratch = memory.Regions.Select(r => new ulong[BitmapWords(r)]).ToArray();
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
        for (int i = 0; i < _scratch.Length; i++)
        {
            _scratch[i].AsSpan().Clear();
            _takeGuestWrites(i, _scratch[i]);
            Memory.TakeVmmWritten(i, _scratch[i]);
            foreach (var t in _trackers) t.Merge(i, _scratch[i]);
        }
    }

    /// <summary>Forgets every page written so far, in every tracker (after a snapshot was restored).</summary>
    public void Discard()
    {
        Collect();
        foreach (var t in _trackers) t.ClearPages();
    }
}
