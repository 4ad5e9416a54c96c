using System.Runtime.InteropServices;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The guest pages written since the last <see cref="Reset"/> (by the guest, from KVM's dirty log,
/// or by the VMM), and a hash of their contents. Equal registers and an equal hash at the same
/// place in a run mean equal machine state, which is how a replay recognises a recorded point
/// that no exit marks; the same set names the pages an incremental snapshot must hold.
/// </summary>
public sealed class DirtyPageTracker
{
    private readonly DirtyLog _log;
    private readonly ulong[][] _pages;

    internal DirtyPageTracker(DirtyLog log)
    {
        _log = log;
        _pages = log.Memory.Regions.Select(r => new ulong[DirtyLog.BitmapWords(r)]).ToArray();
    }

    internal void Merge(int region, ReadOnlySpan<ulong> bits)
    {
        var mine = _pages[region];
        for (int w = 0; w < mine.Length; w++) mine[w] |= bits[w];
    }

    internal void ClearPages()
    {
        foreach (var a in _pages) Array.Clear(a);
    }

    /// <summary>Guest-physical addresses of the pages written since the last reset, ascending.</summary>
    public List<ulong> Pages()
    {
        _log.Collect();
        return DirtyLog.PagesIn(_pages, _log.Memory.Regions);
    }

    /// <summary>Marks <paramref name="gpas"/> as written (restoring a tracker's set from a snapshot).</summary>
    public void Add(ReadOnlySpan<ulong> gpas)
    {
        var regions = _log.Memory.Regions;
        foreach (ulong gpa in gpas)
            for (int i = 0; i < regions.Count; i++)
                if (regions[i].Contains(gpa))
                {
                    ulong page = (gpa - regions[i].GuestBase) / GuestMemory.PageSize;
                    _pages[i][page / 64] |= 1UL << (int)(page % 64);
                }
    }

    /// <summary>
    /// Hash (<see cref="PageSetHash"/>, SHA-256) of the addresses and contents of every page
    /// written since the last reset. A forced service point carries it in every format version:
    /// it covers the few pages written between two service points, where the hash function's
    /// speed does not show.
    /// </summary>
    public ulong Hash() => PageSetHash.Of(_log.Memory, CollectionsMarshal.AsSpan(Pages()), PageHashAlgorithm.Sha256);

    /// <summary>
    /// <see cref="Hash"/> and the hash of the written pages' addresses alone
    /// (<see cref="PageSetHash.OfAddresses"/>), from one look at the dirty log.
    /// </summary>
    public (ulong Contents, ulong Addresses) Hashes()
    {
        var pages = CollectionsMarshal.AsSpan(Pages());
        return (PageSetHash.Of(_log.Memory, pages, PageHashAlgorithm.Sha256), PageSetHash.OfAddresses(pages));
    }

    /// <summary>Starts a new interval: pages written from now on.</summary>
    public void Reset()
    {
        _log.Collect();
        ClearPages();
    }
}
