using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The linear pages the processor writes (<see cref="IWrittenPageLog"/>): every write that does
/// not hit the write TLB passes through the slow path, which notes its page, and so does every
/// store the engine's shared emulation reports (interrupt frames); a collection begins with the
/// pages the write TLB holds, which later writes may hit without a note. So a collection holds
/// every page a watch check could see written since it began, for a few instructions on each
/// write TLB miss and nothing on a hit.
/// </summary>
public sealed partial class Processor : IWrittenPageLog
{
    private HashSet<ulong>? _writtenPages;

    bool IWrittenPageLog.Enabled
    {
        get => _writtenPages is not null;
        set => _writtenPages = value ? Seeded() : null;
    }

    ulong[] IWrittenPageLog.Take()
    {
        var taken = Sorted(_writtenPages);
        if (_writtenPages is not null) _writtenPages = Seeded();
        return taken;
    }

    ulong[] IWrittenPageLog.Peek() => Sorted(_writtenPages);

    private static ulong[] Sorted(HashSet<ulong>? pages)
    {
        if (pages is null) return [];
        var array = pages.ToArray();
        Array.Sort(array);
        return array;
    }

    // A new collection: the pages the write TLB (and the watched pages' own slots) may let a
    // write reach without the slow path.
    private HashSet<ulong> Seeded()
    {
        var pages = new HashSet<ulong>();
        foreach (var e in _tlbWrite)
            if (e.Tag != InvalidTag) pages.Add(e.Tag & PageMask);
        foreach (var e in _watchedWrite)
            if (e.Tag != InvalidTag) pages.Add(e.Tag & PageMask);
        return pages;
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
}
