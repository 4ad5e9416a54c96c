using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The linear pages the processor writes and executes from (<see cref="IPageLog"/>). Every write
/// that does not hit the write TLB passes through the slow path, which notes its page, and so
/// does every store the engine's shared emulation reports (interrupt frames); a collection
/// begins with the pages the write TLB holds, which later writes may hit without a note. Every
/// block notes its pages the first time it runs in a collection (a stamp per block: one compare
/// each time a block starts). So a collection holds every page a watch check could see written,
/// and every page a breakpoint check could see an instruction begin on, since it began.
/// </summary>
public sealed partial class Processor : IPageLog
{
    private HashSet<ulong>? _writtenPages, _executedPages;
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
            else _writtenPages = _executedPages = null;
        }
    }

    PageSets IPageLog.Take()
    {
        var taken = ((IPageLog)this).Peek();
        if (_writtenPages is not null) Begin();
        return taken;
    }

    PageSets IPageLog.Peek() => _writtenPages is null ? PageSets.Empty : new(Sorted(_writtenPages), Sorted(_executedPages!));

    private static ulong[] Sorted(HashSet<ulong> pages)
    {
        var array = pages.ToArray();
        Array.Sort(array);
        return array;
    }

    // A new collection: no block has noted its pages in it; the pages the write TLB (and the
    // watched pages' own slots) may let a write reach without the slow path are in it.
    private void Begin()
    {
        _collection++;
        _executedPages = new HashSet<ulong>();
        _writtenPages = new HashSet<ulong>();
        foreach (var e in _tlbWrite)
            if (e.Tag != InvalidTag) _writtenPages.Add(e.Tag & PageMask);
        foreach (var e in _watchedWrite)
            if (e.Tag != InvalidTag) _writtenPages.Add(e.Tag & PageMask);
    }

    // A write to linear `la` that the watch checks see by this address.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteWrite(ulong la) => _writtenPages?.Add(la & PageMask);

    // A store of `size` bytes at linear `la` (already masked) that the engine's emulation reports.
    private void NoteWrites(ulong la, int size)
    {
        if (_writtenPages is null || size <= 0) return;
        for (ulong page = la & PageMask; ; page = (page + 0x1000) & LinearMask)
        {
            _writtenPages.Add(page);
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
        _executedPages!.Add(first);
        if (block.SecondPage != Block.NoPage) _executedPages.Add((first + 0x1000) & LinearMask);
    }
}
