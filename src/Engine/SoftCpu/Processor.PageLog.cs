using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The linear pages the processor reads, writes and executes from (<see cref="IPageLog"/>). Every
/// data access that does not hit the TLB passes through the slow path, which notes its page, and
/// so does every access the engine's shared emulation reports (interrupt frames, descriptors); a
/// collection begins with the pages the read and write TLBs hold, which later accesses may hit
/// without a note. Every block notes its pages the first time it runs in a collection (a stamp
/// per block: one compare each time a block starts). So a collection holds every page a watch
/// check could see read or written, and every page a breakpoint check could see an instruction
/// begin on, since it began.
/// </summary>
public sealed partial class Processor : IPageLog
{
    private HashSet<ulong>? _readPages, _writtenPages, _executedPages;
    // The current collection's number, which a block that noted its pages in it carries (a block
    // starts with 0, which no collection has).
    private long _collection;

    bool IPageLog.Enabled
    {
        get => _writtenPages is not null;
        set
        {
            if (value == (_writtenPages is not null)) return;
            if (value) Begin();
            else _readPages = _writtenPages = _executedPages = null;
        }
    }

    PageSets IPageLog.Take()
    {
        var taken = ((IPageLog)this).Peek();
        if (_writtenPages is not null) Begin();
        return taken;
    }

    PageSets IPageLog.Peek() => _writtenPages is null ? PageSets.Empty : new(Sorted(_readPages!), Sorted(_writtenPages), Sorted(_executedPages!));

    private static ulong[] Sorted(HashSet<ulong> pages)
    {
        var array = pages.ToArray();
        Array.Sort(array);
        return array;
    }

    // A new collection: no block has noted its pages in it; the pages the TLBs (and the watched
    // pages' own slots) may let an access reach without the slow path are in it.
    private void Begin()
    {
        _collection++;
        _executedPages = new HashSet<ulong>();
        _readPages = Cached(_tlbRead, _watchedRead);
        _writtenPages = Cached(_tlbWrite, _watchedWrite);
    }

    private static HashSet<ulong> Cached(TlbEntry[] tlb, TlbEntry[] watched)
    {
        var pages = new HashSet<ulong>();
        foreach (var e in tlb)
            if (e.Tag != InvalidTag) pages.Add(e.Tag & PageMask);
        foreach (var e in watched)
            if (e.Tag != InvalidTag) pages.Add(e.Tag & PageMask);
        return pages;
    }

    // A write (a read) of linear `la` that the watch checks see by this address.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteWrite(ulong la) => _writtenPages?.Add(la & PageMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteRead(ulong la) => _readPages?.Add(la & PageMask);

    // An access of `size` bytes at linear `la` (already masked) that the engine's emulation reports.
    private void NoteAccess(ulong la, int size, bool write)
    {
        var pages = write ? _writtenPages : _readPages;
        if (pages is null || size <= 0) return;
        for (ulong page = la & PageMask; ; page = (page + 0x1000) & LinearMask)
        {
            pages.Add(page);
            if (page == ((la + (ulong)size - 1) & LinearMask & PageMask)) break;
        }
    }

    // Whether `block` has yet to note its pages in this collection (while nothing is collected,
    // only a block that has not run since: it is stamped and notes nothing).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool MustNoteExecution(Block block) => block.Collection != _collection;

    // The pages of `block`'s instructions: where it starts and, for an instruction crossing the
    // page's end, the next page.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NoteExecution(Block block)
    {
        block.Collection = _collection;
        if (_executedPages is null) return;
        ulong first = block.Key.Linear & PageMask;
        _executedPages.Add(first);
        if (block.SecondPage != Block.NoPage) _executedPages.Add((first + 0x1000) & LinearMask);
    }
}
