using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;

namespace VmReplay.Engine.Memory;

/// <summary>
/// Guest pages mapped read-only in KVM (KVM_MEM_READONLY), so that every guest write to them
/// exits to the VMM as an MMIO write with address, length and data, the instruction complete.
/// The VMM carries the write out itself (<see cref="Apply"/>). This is how watchpoints work
/// where the host's debug registers do not fire on data accesses, and it works the same on
/// VMX/SVM hardware.
/// </summary>
/// <remarks>
/// A region is remapped as a run of slots: writable stretches with the VM's dirty logging and
/// read-only single pages. The dirty log is collected first, since deleting a slot drops its
/// log; <see cref="DirtyLog"/> reads the writable slots of each region.
/// </remarks>
public sealed class WriteTrappedPages
{
    // Slot numbers for the pieces; the regions' own slots are 0..n-1.
    private const uint FirstPieceSlot = 64;

    private readonly KvmVm _kvm;
    private readonly GuestMemory _memory;
    private readonly bool _dirtyLogging;
    private readonly bool _supported;
    private readonly SortedSet<ulong> _pages = new();
    private readonly int _maxSlots;

    internal WriteTrappedPages(KvmVm kvm, GuestMemory memory, bool dirtyLogging, bool supported, int maxSlots)
    {
        _kvm = kvm;
        _memory = memory;
        _dirtyLogging = dirtyLogging;
        _supported = supported;
        _maxSlots = maxSlots;
    }

    /// <summary>Called before slots change, so no dirty page is lost with a deleted slot.</summary>
    internal Action? BeforeRemap { get; set; }

    /// <summary>The trapped pages (guest-physical page addresses).</summary>
    public IReadOnlyCollection<ulong> Pages => _pages;

    /// <summary>True when a guest write to <paramref name="gpa"/> exits to the VMM because of this set.</summary>
    public bool Contains(ulong gpa) => _pages.Count > 0 && _pages.Contains(gpa & ~(GuestMemory.PageSize - 1));

    /// <summary>Makes exactly <paramref name="pages"/> (page addresses of RAM) write-trapped.</summary>
    public void Set(IEnumerable<ulong> pages)
    {
        var wanted = new SortedSet<ulong>(pages.Select(p => p & ~(GuestMemory.PageSize - 1)));
        foreach (var p in wanted)
            if (!_memory.IsRam(p, GuestMemory.PageSize))
                throw new ArgumentException($"guest-physical page {p:x} is not RAM");
        if (wanted.SetEquals(_pages)) return;
        if (!_supported)
            throw new KvmUnavailableException("write-trapping guest pages needs KVM_CAP_READONLY_MEM (read-only memory slots), which this host's KVM lacks");
        var changed = _memory.Regions.Where(r => wanted.Where(r.Contains).Concat(_pages.Where(r.Contains)).Any()
                                                 && !wanted.Where(r.Contains).SequenceEqual(_pages.Where(r.Contains))).ToList();
        BeforeRemap?.Invoke();
        foreach (var r in changed) Remap(r, wanted.Where(r.Contains).ToList());
        _pages.Clear();
        _pages.UnionWith(wanted);
    }

    /// <summary>Carries out a trapped guest write (the VMM's write is tracked as dirty like a guest's).</summary>
    public void Apply(ulong gpa, ReadOnlySpan<byte> data) => _memory.Write(gpa, data);

    private void Remap(GuestMemoryRegion r, List<ulong> trapped)
    {
        foreach (var old in r.Slots) _kvm.SetUserMemoryRegion(old.Slot, 0, 0, 0, 0);
        var slots = new List<MemorySlot>();
        ulong pages = r.Size / GuestMemory.PageSize, at = 0;
        foreach (var p in trapped.Select(p => (p - r.GuestBase) / GuestMemory.PageSize))
        {
            if (p > at) slots.Add(new MemorySlot(0, at, p - at, false));
            slots.Add(new MemorySlot(0, p, 1, true));
            at = p + 1;
        }
        if (at < pages) slots.Add(new MemorySlot(0, at, pages - at, false));
        r.Slots = [];
        var numbered = new List<MemorySlot>();
        for (int i = 0; i < slots.Count; i++)
        {
            // A single writable piece is the region itself under its own slot number.
            uint slot = slots.Count == 1 ? r.Slot : NextFreeSlot(numbered);
            numbered.Add(slots[i] with { Slot = slot });
        }
        foreach (var s in numbered)
        {
            uint flags = s.ReadOnly ? KvmUserspaceMemoryRegion.ReadOnly : _dirtyLogging ? KvmUserspaceMemoryRegion.LogDirtyPages : 0;
            ulong offset = s.FirstPage * GuestMemory.PageSize;
            try
            {
                _kvm.SetUserMemoryRegion(s.Slot, r.GuestBase + offset, s.PageCount * GuestMemory.PageSize, r.HostAddress + (nint)offset, flags);
            }
            catch (KvmException e)
            {
                throw new KvmUnavailableException($"cannot map guest page {r.GuestBase + offset:x} as {(s.ReadOnly ? "read-only" : "writable")} slot {s.Slot}: {e.Message}");
            }
        }
        r.Slots = numbered;
    }

    private uint NextFreeSlot(List<MemorySlot> taken)
    {
        var inUse = _memory.Regions.SelectMany(r => r.Slots).Select(s => s.Slot).Concat(taken.Select(s => s.Slot))
            .Concat(_memory.Regions.Select(r => r.Slot)).ToHashSet();
        uint slot = FirstPieceSlot;
        while (inUse.Contains(slot)) slot++;
        if (slot >= _maxSlots)
            throw new KvmUnavailableException($"too many trapped pages: this host's KVM has {_maxSlots} memory slots (KVM_CAP_NR_MEMSLOTS)");
        return slot;
    }
}
