using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Memory;

/// <summary>
/// Guest RAM: anonymous mmap'd regions by guest-physical address, with reads and writes that
/// may cross region boundaries. Independent of KVM so it can be built and tested alone; a VM
/// maps each region as a memory slot.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    /// <summary>Start of the 32-bit PCI/MMIO hole: RAM beyond it moves above 4 GiB, as on a PC.</summary>
    public const ulong MmioHoleStart = 0xC000_0000;
    public const ulong FourGiB = 0x1_0000_0000;
    public const ulong PageSize = 4096;

    // Guest RAM below this is not advised into huge pages (see AddRegion).
    private const ulong SmallPagesBelow = 4UL << 20;

    private readonly List<GuestMemoryRegion> _regions = new();
    // Pages the VMM itself wrote (interrupt frames, emulated instructions): KVM's dirty log only
    // sees guest writes, and a snapshot or a state hash must see both.
    private readonly List<ulong[]> _vmmWritten = new();
    // Pages put back by RestorePage since the last TakeRestored, per region: a dirty-page log
    // does not count them as written, yet they may hold anything.
    private readonly List<ulong[]> _restored = new();

    private GuestMemory() { }

    /// <summary>All RAM regions in address order.</summary>
    public IReadOnlyList<GuestMemoryRegion> Regions => _regions;

    /// <summary>Total bytes of RAM.</summary>
    public ulong TotalSize { get; private set; }

    /// <summary>
    /// Creates <paramref name="size"/> bytes of RAM laid out as on a PC: from 0 up to the MMIO hole
    /// at 3 GiB, the rest from 4 GiB.
    /// </summary>
    public static GuestMemory CreatePcLayout(ulong size)
    {
        if (size < 1024 * 1024 || size % PageSize != 0)
            throw new ArgumentException($"guest memory must be at least 1 MiB and a multiple of 4 KiB (got {size})");
        var m = new GuestMemory();
        try
        {
            ulong low = Math.Min(size, MmioHoleStart);
            m.AddRegion(0, low);
            if (size > low) m.AddRegion(FourGiB, size - low);
        }
        catch
        {
            m.Dispose();
            throw;
        }
        return m;
    }

    private void AddRegion(ulong guestBase, ulong size)
    {
        void* p = Libc.Mmap(null, (nuint)size, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        // A host that cannot give the VMM this much address space is a host fault, reported in one line.
        if (p == (void*)-1) throw new InsufficientMemoryException($"cannot map {size / (1024 * 1024)} MiB of guest RAM: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        // Advice only: the kernel then hands guest RAM over in 2 MiB pages where it can, instead
        // of a fault for each 4 KiB page first written (the Linux boot: run 206.7 -> 198.5 ms,
        // record 213.9 -> 202.4, replay 196.3 -> 189.8, 11 alternating rounds each, native build;
        // its trace byte for byte the same). Only what the guest wrote is ever in a snapshot: the
        // scan of populated pages (which now finds whole huge pages) keeps the non-zero ones.
        // Not the first MiBs, which hold a few scattered pages (the real-mode area, the boot
        // structures the loader writes, a small guest loaded at 1 MiB; Linux runs from 16 MiB):
        // there a huge page was 2 MiB to zero at the first write, and to scan at every full
        // snapshot and at the end of a recording (bench-exits: record 30.4 -> 29.7 ms, replay
        // 30.2 -> 29.4, run the same; 41 alternating rounds).
        ulong unadvised = guestBase < SmallPagesBelow ? Math.Min(size, SmallPagesBelow - guestBase) : 0;
        if (size > unadvised) Libc.Madvise((byte*)p + unadvised, (nuint)(size - unadvised), Libc.MADV_HUGEPAGE);
        _regions.Add(new GuestMemoryRegion((uint)_regions.Count, guestBase, size, (byte*)p));
        _vmmWritten.Add(new ulong[(size / PageSize + 63) / 64]);
        _restored.Add(new ulong[(size / PageSize + 63) / 64]);
        TotalSize += size;
    }

    /// <summary>The region holding <paramref name="gpa"/>, or null.</summary>
    public GuestMemoryRegion? FindRegion(ulong gpa)
    {
        foreach (var r in _regions)
            if (r.Contains(gpa)) return r;
        return null;
    }

    /// <summary>True if every byte of [gpa, gpa+length) is RAM.</summary>
    public bool IsRam(ulong gpa, ulong length)
    {
        while (length > 0)
        {
            var r = FindRegion(gpa);
            if (r is null) return false;
            ulong n = Math.Min(length, r.GuestEnd - gpa);
            gpa += n;
            length -= n;
        }
        return true;
    }

    /// <summary>A span over RAM that lies within one region.</summary>
    public Span<byte> GetSpan(ulong gpa, int length)
    {
        var r = FindRegion(gpa);
        if (r is null || (ulong)length > r.GuestEnd - gpa) throw new GuestMemoryException(gpa, length);
        return new Span<byte>(r.Host + (gpa - r.GuestBase), length);
    }

    public bool TryRead(ulong gpa, Span<byte> destination) => Copy(gpa, destination, default, write: false);

    public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source) => Copy(gpa, default, source, write: true);

    public void Read(ulong gpa, Span<byte> destination)
    {
        if (!TryRead(gpa, destination)) throw new GuestMemoryException(gpa, destination.Length);
    }

    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!TryWrite(gpa, source)) throw new GuestMemoryException(gpa, source.Length);
    }

    public byte ReadByte(ulong gpa) { Span<byte> b = stackalloc byte[1]; Read(gpa, b); return b[0]; }
    public ushort ReadUInt16(ulong gpa) { Span<byte> b = stackalloc byte[2]; Read(gpa, b); return BinaryPrimitives.ReadUInt16LittleEndian(b); }
    public uint ReadUInt32(ulong gpa) { Span<byte> b = stackalloc byte[4]; Read(gpa, b); return BinaryPrimitives.ReadUInt32LittleEndian(b); }
    public ulong ReadUInt64(ulong gpa) { Span<byte> b = stackalloc byte[8]; Read(gpa, b); return BinaryPrimitives.ReadUInt64LittleEndian(b); }
    public void WriteByte(ulong gpa, byte v) => Write(gpa, [v]);
    public void WriteUInt16(ulong gpa, ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); Write(gpa, b); }
    public void WriteUInt32(ulong gpa, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); Write(gpa, b); }
    public void WriteUInt64(ulong gpa, ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); Write(gpa, b); }

    private bool Copy(ulong gpa, Span<byte> dst, ReadOnlySpan<byte> src, bool write)
    {
        int remaining = write ? src.Length : dst.Length;
        int done = 0;
        if (!IsRam(gpa, (ulong)remaining)) return false;
        while (remaining > 0)
        {
            var r = FindRegion(gpa)!;
            int n = (int)Math.Min((ulong)remaining, r.GuestEnd - gpa);
            var host = new Span<byte>(r.Host + (gpa - r.GuestBase), n);
            if (write)
            {
                if (Volatile.Read(ref _lazyCopy) is { } copy)
                    for (ulong page = gpa & ~(PageSize - 1); page < gpa + (ulong)n; page += PageSize) copy.BeforeWrite(page);
                src.Slice(done, n).CopyTo(host);
                MarkWritten(r, gpa, n);
            }
            else host.CopyTo(dst.Slice(done, n));
            gpa += (ulong)n;
            done += n;
            remaining -= n;
        }
        return true;
    }

    /// <summary>
    /// Told of every write the VMM makes through this object (interrupt frames, loaders, page-table
    /// bits, restored snapshots): a software CPU drops code it decoded from those bytes.
    /// </summary>
    public Action<ulong, int>? WriteObserver { get; set; }

    private void MarkWritten(GuestMemoryRegion r, ulong gpa, int length)
    {
        WriteObserver?.Invoke(gpa, length);
        MarkPages(_vmmWritten, r, gpa, length);
    }

    // Sets the bits of the pages [gpa, gpa + length) touch in `bitmaps`' bitmap of region `r`.
    private static void MarkPages(List<ulong[]> bitmaps, GuestMemoryRegion r, ulong gpa, int length)
    {
        var bits = bitmaps[(int)r.Slot];
        ulong first = (gpa - r.GuestBase) / PageSize, last = (gpa - r.GuestBase + (ulong)length - 1) / PageSize;
        for (ulong page = first; page <= last; page++) bits[page / 64] |= 1UL << (int)(page % 64);
    }

    /// <summary>ORs the pages the VMM wrote in region <paramref name="region"/> since the last call into <paramref name="bitmap"/> and forgets them.</summary>
    public void TakeVmmWritten(int region, Span<ulong> bitmap) => TakePages(_vmmWritten[region], bitmap);

    // ORs `bits` into `bitmap` and clears them.
    private static void TakePages(ulong[] bits, Span<ulong> bitmap)
    {
        for (int w = 0; w < bits.Length; w++)
        {
            bitmap[w] |= bits[w];
            bits[w] = 0;
        }
    }

    /// <summary>
    /// Every page of RAM that is not all zeros, in address order. Only pages the host has
    /// populated are read (<see cref="PopulatedPages"/>): the others are zeros, and reading them
    /// would cost a page fault each.
    /// </summary>
    public List<ulong> NonZeroPages()
    {
        var pages = new List<ulong>();
        foreach (var r in _regions) PopulatedPages.AddTo(pages, r);
        return KeepNonZero(pages);
    }

    /// <summary>Removes the pages that hold only zeros from <paramref name="pages"/> (guest-physical addresses of RAM pages) and returns it.</summary>
    internal List<ulong> KeepNonZero(List<ulong> pages)
    {
        pages.RemoveAll(gpa => !GetSpan(gpa, (int)PageSize).ContainsAnyExcept((byte)0));
        return pages;
    }

    /// <summary>How many times RAM was zeroed by <see cref="Clear"/>.</summary>
    internal int Clears { get; private set; }

    /// <summary>ORs the pages <see cref="RestorePage"/> put back in region <paramref name="region"/> since the last call into <paramref name="bitmap"/> and forgets them.</summary>
    internal void TakeRestored(int region, Span<ulong> bitmap) => TakePages(_restored[region], bitmap);

    /// <summary>Zeroes all RAM (before restoring a snapshot), without marking pages as written.</summary>
    public void Clear()
    {
        FinishLazyCopy();
        foreach (var r in _regions) WriteObserver?.Invoke(r.GuestBase, (int)Math.Min(r.Size, int.MaxValue));
        // MADV_DONTNEED drops the pages of a private anonymous mapping: they read as zeros again
        // and are no longer populated, so the next scan of RAM skips them. Writing zeros would
        // instead fault in every page of RAM. KVM learns of the dropped pages through its MMU
        // notifier and faults them in again on the guest's next access.
        foreach (var r in _regions)
            if (Libc.Madvise(r.Host, (nuint)r.Size, Libc.MADV_DONTNEED) != 0)
                for (ulong at = 0; at < r.Size; at += 1 << 30)
                    new Span<byte>(r.Host + at, (int)Math.Min(1UL << 30, r.Size - at)).Clear();
        foreach (var bits in _vmmWritten) Array.Clear(bits);
        foreach (var bits in _restored) Array.Clear(bits);
        Clears++;
    }

    // The copy of pages that writes must wait for (a snapshot being taken), if any.
    private LazyPageCopy? _lazyCopy;

    /// <summary>
    /// Starts a copy of <paramref name="pages"/> (ascending) taken as they are now, page by page
    /// (<see cref="LazyPageCopy"/>). Only a backend that sees every guest write before it happens
    /// may start one, and only one at a time: an unfinished one is completed first.
    /// </summary>
    internal LazyPageCopy BeginLazyCopy(ulong[] pages)
    {
        FinishLazyCopy();
        var copy = new LazyPageCopy(this, pages);
        Volatile.Write(ref _lazyCopy, copy);
        return copy;
    }

    internal void EndLazyCopy(LazyPageCopy copy) => Interlocked.CompareExchange(ref _lazyCopy, null, copy);

    // Before RAM changes wholesale (cleared, restored, unmapped, another copy begun): the copy
    // under way takes what it has not taken yet.
    private void FinishLazyCopy() => Volatile.Read(ref _lazyCopy)?.Complete();

    /// <summary>A software CPU is about to write to page <paramref name="page"/> (the first write since its write translations were dropped).</summary>
    internal void BeforeGuestWrite(ulong page) => Volatile.Read(ref _lazyCopy)?.BeforeWrite(page);

    /// <summary>
    /// Writes whole pages restored from a snapshot, without marking them as written (a dirty-page
    /// log's trackers do not see them; <see cref="DirtyLog.NonZeroPages"/> does).
    /// </summary>
    public void RestorePage(ulong gpa, ReadOnlySpan<byte> page)
    {
        FinishLazyCopy();
        page.CopyTo(GetSpan(gpa, (int)PageSize));
        WriteObserver?.Invoke(gpa, (int)PageSize);
        MarkPages(_restored, FindRegion(gpa)!, gpa, (int)PageSize);
    }

    public void Dispose()
    {
        // A copy still being made reads RAM: it is finished before RAM goes away.
        FinishLazyCopy();
        foreach (var r in _regions) Libc.Munmap(r.Host, (nuint)r.Size);
        _regions.Clear();
        GC.SuppressFinalize(this);
    }
}
