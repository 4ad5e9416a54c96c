using VmReplay.Engine.Kvm;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The one reader of a VM's dirty-page log. KVM clears its log on every read, so several
/// consumers (the hash of a forced service point, the pages of the next incremental snapshot)
/// each get their own <see cref="DirtyPageTracker"/> and this fans every read out to all of them.
/// Pages the VMM wrote itself are folded in too.
/// </summary>
public sealed class DirtyLog
{
    private readonly KvmVm _vm;
    private readonly ulong[][] _scratch;
    private ulong[] _pieceScratch = [];
    private readonly List<DirtyPageTracker> _trackers = new();

    public DirtyLog(KvmVm vm, GuestMemory memory)
    {
        _vm = vm;
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
            ReadKvmLog(Memory.Regions[i], _scratch[i]);
            Memory.TakeVmmWritten(i, _scratch[i]);
            foreach (var t in _trackers) t.Merge(i, _scratch[i]);
        }
    }

    // A region split into several slots (write-trapped pages) has one log per writable slot.
    private void ReadKvmLog(GuestMemoryRegion r, ulong[] bitmap)
    {
        if (r.Slots.Count == 1)
        {
            _vm.GetDirtyLog(r.Slots[0].Slot, bitmap);
            return;
        }
        Array.Clear(bitmap);
        foreach (var s in r.Slots)
        {
            if (s.ReadOnly) continue;
            int words = (int)((s.PageCount + 63) / 64);
            if (_pieceScratch.Length < words) _pieceScratch = new ulong[words];
            var piece = _pieceScratch.AsSpan(0, words);
            _vm.GetDirtyLog(s.Slot, piece);
            for (ulong p = 0; p < s.PageCount; p++)
                if ((piece[(int)(p / 64)] & (1UL << (int)(p % 64))) != 0)
                {
                    ulong page = s.FirstPage + p;
                    bitmap[page / 64] |= 1UL << (int)(page % 64);
                }
        }
    }

    /// <summary>Forgets every page written so far, in every tracker (after a snapshot was restored).</summary>
    public void Discard()
    {
        Collect();
        foreach (var t in _trackers) t.ClearPages();
    }
}
