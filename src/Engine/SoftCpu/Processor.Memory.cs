using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

public sealed unsafe partial class Processor
{
    // A direct-mapped TLB per kind of access. A tag is the linear page with bit 0 saying whether
    // it was filled for CPL 3, so one entry serves one privilege; an invalid tag has its low
    // bits set and matches nothing. Entries hold the host address of the page: a hit is one
    // compare and one load or store. Write entries exist only for pages already marked dirty
    // and holding no decoded code, so a write hit needs no bookkeeping at all.
    private struct TlbEntry
    {
        public ulong Tag;
        public byte* Host;
        public ulong Physical;
    }

    private const int TlbBits = 10;
    private const int TlbMask = (1 << TlbBits) - 1;
    private const ulong PageMask = ~0xFFFUL;
    private const ulong InvalidTag = ulong.MaxValue;

    private readonly TlbEntry[] _tlbRead = new TlbEntry[1 << TlbBits];
    private readonly TlbEntry[] _tlbWrite = new TlbEntry[1 << TlbBits];
    private readonly TlbEntry[] _tlbFetch = new TlbEntry[1 << TlbBits];
    private ulong _tlbKey;

    // Pages the guest wrote since the dirty log was last taken, per RAM region.
    private ulong[][] _dirty = [];

    private void InitMemory()
    {
        _ram = _memory.Regions.ToArray();
        _dirty = _ram.Select(r => new ulong[(r.Size / GuestMemory.PageSize + 63) / 64]).ToArray();
        _codePages = _ram.Select(r => new ulong[(r.Size / GuestMemory.PageSize + 63) / 64]).ToArray();
        FlushTlb();
    }

    // The RAM regions (fixed when the memory was made) as an array: every TLB miss and dirty mark
    // looks through them, and through the memory's IReadOnlyList each look was interface calls.
    private GuestMemoryRegion[] _ram = [];

    // The index in _ram of the region holding <paramref name="page"/>, or -1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int RegionOf(ulong page)
    {
        var ram = _ram;
        for (int i = 0; i < ram.Length; i++)
            if (page - ram[i].GuestBase < ram[i].Size) return i;
        return -1;
    }

    // The large pages (by linear base) translations have gone through since the last full flush.
    // The TLB caches a large page as 4 KiB pieces in many slots, so INVLPG inside one of these
    // must drop every slot the large page could occupy; anywhere else it drops one slot (Linux
    // invalidates one 4 KiB kernel page at a time, tens of thousands of times in a boot).
    private readonly HashSet<ulong> _largePagesCached = new();

    /// <summary>Drops every cached translation (CR3, CR0, CR4, EFER writes, mode changes).</summary>
    internal void FlushTlb()
    {
        _largePagesCached.Clear();
        Array.Fill(_tlbRead, new TlbEntry { Tag = InvalidTag });
        Array.Fill(_tlbWrite, new TlbEntry { Tag = InvalidTag });
        Array.Fill(_tlbFetch, new TlbEntry { Tag = InvalidTag });
        DropWatchedTranslations();
        _tlbKey = Cpl == 3 ? 1UL : 0UL;
        _mapGeneration++;
    }

    /// <summary>INVLPG: drops the translations of one linear page.</summary>
    internal void FlushTlbPage(ulong linear)
    {
        int i = (int)(linear >> 12) & TlbMask;
        _tlbRead[i].Tag = _tlbWrite[i].Tag = _tlbFetch[i].Tag = InvalidTag;
        // Few, and any may hold a piece of a large page: all go.
        DropWatchedTranslations();
        // Large pages cover many slots, and decoded blocks were looked up through the old mapping.
        _mapGeneration++;
    }

    internal void FlushWriteTlb()
    {
        Array.Fill(_tlbWrite, new TlbEntry { Tag = InvalidTag });
        Array.Fill(_watchedWrite, new TlbEntry { Tag = InvalidTag });
    }

    // Translations of watched pages, kept apart from the TLB, whose hits skip the comparison with
    // the watches: every access to a watched page still takes the slow path and is compared, but
    // does not walk the page tables again. Without them a reverse-continue watching a variable of
    // the guest's busiest loop (the ticks guest's `limit`, 100M instructions) spent a quarter of
    // its time walking and looking the page up. Dropped wherever the TLB's entries are.
    private const int WatchedSlots = 16;
    private readonly TlbEntry[] _watchedRead = NewWatchedTranslations();
    private readonly TlbEntry[] _watchedWrite = NewWatchedTranslations();

    private static TlbEntry[] NewWatchedTranslations()
    {
        var slots = new TlbEntry[WatchedSlots];
        Array.Fill(slots, new TlbEntry { Tag = InvalidTag });
        return slots;
    }

    private void DropWatchedTranslations()
    {
        Array.Fill(_watchedRead, new TlbEntry { Tag = InvalidTag });
        Array.Fill(_watchedWrite, new TlbEntry { Tag = InvalidTag });
    }

    private static ref TlbEntry WatchedSlot(TlbEntry[] slots, ulong linear) => ref slots[(int)(linear >> 12) & (WatchedSlots - 1)];

    // A data access to a watched page at the current privilege, translated as before: its
    // physical address and host page, as TranslateData gives them.
    private bool TryWatchedTranslation(TlbEntry[] slots, ulong la, bool user, out ulong pa, out byte* host)
    {
        ref var e = ref WatchedSlot(slots, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && user == (Cpl == 3))
        {
            pa = e.Physical | (la & 0xFFF);
            host = e.Host;
            return true;
        }
        pa = 0;
        host = null;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TlbEntry Slot(TlbEntry[] tlb, ulong linear) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tlb), (int)(linear >> 12) & TlbMask);

    // ---- Linear reads and writes at the current privilege -------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(ulong la)
    {
        ref var e = ref Slot(_tlbRead, la);
        if (e.Tag == ((la & PageMask) | _tlbKey)) return e.Host[la & 0xFFF];
        return (byte)ReadSlow(la, 1, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(ulong la)
    {
        ref var e = ref Slot(_tlbRead, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFFE) return *(ushort*)(e.Host + (la & 0xFFF));
        return (ushort)ReadSlow(la, 2, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(ulong la)
    {
        ref var e = ref Slot(_tlbRead, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFFC) return *(uint*)(e.Host + (la & 0xFFF));
        return (uint)ReadSlow(la, 4, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read64(ulong la)
    {
        ref var e = ref Slot(_tlbRead, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFF8) return *(ulong*)(e.Host + (la & 0xFFF));
        return ReadSlow(la, 8, Cpl == 3);
    }

    /// <summary>A read of 1, 2, 4 or 8 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Read(ulong la, int size) => size switch
    {
        1 => Read8(la),
        2 => Read16(la),
        4 => Read32(la),
        _ => Read64(la),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(ulong la, byte v)
    {
        ref var e = ref Slot(_tlbWrite, la);
        if (e.Tag == ((la & PageMask) | _tlbKey)) { e.Host[la & 0xFFF] = v; return; }
        WriteSlow(la, 1, v, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(ulong la, ushort v)
    {
        ref var e = ref Slot(_tlbWrite, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFFE) { *(ushort*)(e.Host + (la & 0xFFF)) = v; return; }
        WriteSlow(la, 2, v, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(ulong la, uint v)
    {
        ref var e = ref Slot(_tlbWrite, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFFC) { *(uint*)(e.Host + (la & 0xFFF)) = v; return; }
        WriteSlow(la, 4, v, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write64(ulong la, ulong v)
    {
        ref var e = ref Slot(_tlbWrite, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= 0xFF8) { *(ulong*)(e.Host + (la & 0xFFF)) = v; return; }
        WriteSlow(la, 8, v, Cpl == 3);
    }

    /// <summary>A write of 1, 2, 4 or 8 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write(ulong la, int size, ulong v)
    {
        switch (size)
        {
            case 1: Write8(la, (byte)v); break;
            case 2: Write16(la, (ushort)v); break;
            case 4: Write32(la, (uint)v); break;
            default: Write64(la, v); break;
        }
    }

    /// <summary>
    /// Checks that <paramref name="size"/> bytes at <paramref name="la"/> may be written, raising
    /// the fault the write would, without writing (read-modify-write instructions check before
    /// they change anything).
    /// </summary>
    internal void ProbeWrite(ulong la, int size)
    {
        ref var e = ref Slot(_tlbWrite, la);
        if (e.Tag == ((la & PageMask) | _tlbKey) && (la & 0xFFF) <= (ulong)(0x1000 - size)) return;
        TranslateData(la, write: true, user: Cpl == 3, out _);
        // The second page is checked at its first byte: a #PF there reports that address in CR2, as the CPU does.
        if (((la + (ulong)size - 1) & PageMask) != (la & PageMask)) TranslateData((la + (ulong)size - 1) & LinearMask & PageMask, write: true, user: Cpl == 3, out _);
    }

    /// <summary>Reads with supervisor rights whatever the CPL (descriptor tables, the TSS, the IDT: SDM 4.6 "implicit supervisor-mode accesses").</summary>
    internal ulong ReadSystem(ulong la, int size) => ReadSlow(la & LinearMask, size, user: false);

    /// <summary>Writes with supervisor rights whatever the CPL (accessed bits of descriptors, TSS busy bits).</summary>
    internal void WriteSystem(ulong la, int size, ulong value) => WriteSlow(la & LinearMask, size, value, user: false);

    /// <summary>Reads <paramref name="destination"/>.Length bytes (FXRSTOR, far pointers, descriptor tables) at the current privilege.</summary>
    internal void ReadBytes(ulong la, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = Read8((la + (ulong)i) & LinearMask);
    }

    /// <summary>
    /// Writes <paramref name="source"/> at the current privilege; every page is checked first, so
    /// a fault leaves memory unchanged.
    /// </summary>
    internal void WriteBytes(ulong la, ReadOnlySpan<byte> source)
    {
        for (int i = 0; i < source.Length; i += 0x1000 - (int)((la + (ulong)i) & 0xFFF))
            ProbeWrite((la + (ulong)i) & LinearMask, 1);
        ProbeWrite((la + (ulong)source.Length - 1) & LinearMask, 1);
        for (int i = 0; i < source.Length; i++) Write8((la + (ulong)i) & LinearMask, source[i]);
    }

    // ---- Slow paths: translation, page crossings, MMIO, code and dirty bookkeeping ------------

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadSlow(ulong la, int size, bool user)
    {
        ulong last = (la + (ulong)size - 1) & LinearMask;
        if ((last & PageMask) != (la & PageMask))
        {
            // Crossing a page: both halves are translated (and may fault) before either is read.
            ulong value = 0;
            for (int i = 0; i < size; i++) value |= ReadSlow((la + (ulong)i) & LinearMask, 1, user) << (8 * i);
            return value;
        }
        byte* host;
        ulong pa;
        NoteRead(la);
        if (_watches.Length > 0 && IsWatchedPage(la, write: false))
        {
            if (!TryWatchedTranslation(_watchedRead, la, user, out pa, out host)) pa = TranslateData(la, write: false, user, out host);
            CheckWatch(la, size, write: false, 0);
        }
        else pa = TranslateData(la, write: false, user, out host);
        if (host is null) return MmioRead(pa, size);
        byte* p = host + (la & 0xFFF);
        return size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(ulong la, int size, ulong value, bool user)
    {
        ulong last = (la + (ulong)size - 1) & LinearMask;
        if ((last & PageMask) != (la & PageMask))
        {
            TranslateData(la, write: true, user, out _);
            TranslateData(last & PageMask, write: true, user, out _); // CR2 of a #PF is the second page's first byte
            for (int i = 0; i < size; i++) WriteSlow((la + (ulong)i) & LinearMask, 1, value >> (8 * i), user);
            return;
        }
        byte* host;
        ulong pa;
        NoteWrite(la);
        if (_watches.Length > 0 && IsWatchedPage(la, write: true))
        {
            if (!TryWatchedTranslation(_watchedWrite, la, user, out pa, out host)) pa = TranslateData(la, write: true, user, out host);
            CheckWatch(la, size, write: true, value);
        }
        else pa = TranslateData(la, write: true, user, out host);
        if (host is null)
        {
            MmioWrite(pa, size, value);
            return;
        }
        byte* p = host + (la & 0xFFF);
        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            case 4: *(uint*)p = (uint)value; break;
            default: *(ulong*)p = value; break;
        }
        if (IsCodePage(pa & PageMask)) InvalidateCode(pa, size);
    }

    /// <summary>
    /// Translates a data access, raising #PF or #GP as the MMU would, and fills the TLB. Returns
    /// the physical address and the host address of its page, or null for a page that is not RAM.
    /// </summary>
    private ulong TranslateData(ulong la, bool write, bool user, out byte* host)
    {
        var access = (write ? PageAccess.Write : PageAccess.Read) | (user ? PageAccess.User : 0);
        ulong pa = Translate(la, access);
        host = HostPage(pa & PageMask);
        if (host is null) return pa;
        ulong page = pa & PageMask;
        if (write)
        {
            MarkDirty(page);
            // Cached for writes from here: later writes to the page may not come this way.
            NoteWrite(la);
        }
        else NoteRead(la);
        bool privilegeOfTlb = user == (Cpl == 3);
        // Watched pages stay out of the TLB for the accesses their watches catch, so that every
        // such access is compared with the watches; their translations go to slots of their own
        // (TryWatchedTranslation).
        if (privilegeOfTlb && !(write && IsCodePage(page)))
        {
            ref var e = ref IsWatchedPage(la, write) ? ref WatchedSlot(write ? _watchedWrite : _watchedRead, la) : ref Slot(write ? _tlbWrite : _tlbRead, la);
            e.Tag = (la & PageMask) | _tlbKey;
            e.Host = host;
            e.Physical = page;
        }
        return pa;
    }

    /// <summary>Linear to physical for <paramref name="access"/>, through the page tables when paging is on.</summary>
    internal ulong Translate(ulong la, PageAccess access)
    {
        if ((Cr0 & Cr0Pg) == 0) return la & 0xFFFF_FFFF;
        var t = PageWalker.Walk(_memory, new PagingContext(Cr0, Cr3, Cr4, Efer), la, access, updateTables: true, gigabytePages: false);
        switch (t.Status)
        {
            case PageTranslationStatus.Ok:
                if (t.PageSize > GuestMemory.PageSize) _largePagesCached.Add(la & LinearMask & ~(t.PageSize - 1));
                return t.PhysicalAddress;
            case PageTranslationStatus.PageFault:
                throw new GuestException(GuestException.PageFault, t.PageFaultErrorCode, la);
            case PageTranslationStatus.NonCanonical:
                throw GuestException.Gp();
            default:
                // A paging structure outside RAM: the walk reads all-ones there on a PC, which
                // has the reserved bits set.
                throw new GuestException(GuestException.PageFault, 0x9 | ((access & PageAccess.Write) != 0 ? 2u : 0) | ((access & PageAccess.User) != 0 ? 4u : 0), la);
        }
    }

    /// <summary>The host address of RAM page <paramref name="page"/>, or null where there is no RAM.</summary>
    private byte* HostPage(ulong page)
    {
        int i = RegionOf(page);
        return i < 0 ? null : _ram[i].Host + (page - _ram[i].GuestBase);
    }

    private void MarkDirty(ulong page)
    {
        int i = RegionOf(page);
        if (i < 0) return;
        // Every guest write reaches a page through here before the write TLB holds it.
        _memory.BeforeGuestWrite(page);
        ulong n = (page - _ram[i].GuestBase) / GuestMemory.PageSize;
        _dirty[i][n / 64] |= 1UL << (int)(n % 64);
    }

    /// <summary>
    /// ORs the pages the guest wrote in RAM region <paramref name="region"/> since the last call
    /// into <paramref name="bitmap"/> and forgets them (the dirty-page log a VMM reads).
    /// </summary>
    public void TakeDirtyPages(int region, Span<ulong> bitmap)
    {
        var bits = _dirty[region];
        for (int w = 0; w < bits.Length; w++)
        {
            bitmap[w] |= bits[w];
            bits[w] = 0;
        }
        // A write through a cached translation would not mark its page again.
        FlushWriteTlb();
    }

    // ---- MMIO -----------------------------------------------------------------------------------

    // An access to a physical address that is not RAM goes to the VMM as an exit. A read cannot
    // complete without the VMM's answer: the instruction is abandoned (no instruction changes
    // anything before its memory reads) and executed again once the answer is in. A write
    // completes the instruction and is handed over after it.
    private bool _mmioAnswerReady;
    private ulong _mmioAnswerAddress;
    private int _mmioAnswerSize;
    private ulong _mmioAnswer;

    private ulong MmioRead(ulong pa, int size)
    {
        if (_mmioAnswerReady && _mmioAnswerAddress == pa && _mmioAnswerSize == size)
        {
            _mmioAnswerReady = false;
            return _mmioAnswer;
        }
        Exit.SetMmio(pa, size, isWrite: false, 0);
        throw ExitRequest.Instance;
    }

    private void MmioWrite(ulong pa, int size, ulong value)
    {
        if (Exit.Kind == ProcessorExitKind.MmioWrite)
            throw new NotEmulatedException($"an instruction that writes to MMIO twice (at {Exit.Address:x} and {pa:x})");
        Exit.SetMmio(pa, size, isWrite: true, value);
        _exitAfterInstruction = true;
    }

    // ---- Decoded code and self-modifying code ---------------------------------------------------

    // Physical pages some decoded block was read from, one bit per RAM page of each region.
    // Writes to them go the slow way and drop the blocks whose bytes they change.
    private ulong[][] _codePages = [];
    private readonly Dictionary<ulong, CodeOnPage> _blocksByPage = new();

    // The blocks decoded from one physical page, and which of its 64-byte lines they were read
    // from: a write to a line no block was read from (data sharing a page with code, which the
    // Linux boot writes tens of thousands of times) skips the scan of the page's blocks.
    private sealed class CodeOnPage
    {
        public readonly List<Block> Blocks = new();
        public ulong Lines;
    }

    private bool IsCodePage(ulong page)
    {
        int i = RegionOf(page);
        if (i < 0) return false;
        ulong n = (page - _ram[i].GuestBase) / GuestMemory.PageSize;
        return (_codePages[i][n / 64] & (1UL << (int)(n % 64))) != 0;
    }

    internal void RegisterCode(Block block)
    {
        foreach (ulong page in block.Pages())
        {
            int i = RegionOf(page);
            ulong n = (page - _ram[i].GuestBase) / GuestMemory.PageSize;
            ref ulong bits = ref _codePages[i][n / 64];
            if ((bits & (1UL << (int)(n % 64))) == 0)
            {
                bits |= 1UL << (int)(n % 64);
                FlushWriteTlb();
            }
            if (!_blocksByPage.TryGetValue(page, out var code)) _blocksByPage[page] = code = new CodeOnPage();
            code.Blocks.Add(block);
            // On its first page a block covers [Physical, PhysicalEnd); on a second page, the
            // rest of one instruction (at most 14 bytes): its first line.
            code.Lines |= page == (block.Physical & PageMask)
                ? LinesOf(block.Physical, (int)(block.PhysicalEnd - block.Physical))
                : 1;
        }
    }

    // The 64-byte lines of a page that [pa, pa + size) touches (within that page).
    private static ulong LinesOf(ulong pa, int size)
    {
        int first = (int)(pa & 0xFFF) >> 6;
        int last = (int)Math.Min(0xFFF, (pa & 0xFFF) + (ulong)size - 1) >> 6;
        return (last == 63 ? ulong.MaxValue : (1UL << (last + 1)) - 1) & ~((1UL << first) - 1);
    }

    private void InvalidateCode(ulong pa, int size)
    {
        if (!_blocksByPage.TryGetValue(pa & PageMask, out var code) || (code.Lines & LinesOf(pa, size)) == 0) return;
        // One compacting pass: removing entries one by one shifted the list for each, and a
        // string instruction clearing a page of code met every block of it (a tenth of the
        // Linux boot's interpreter time went there).
        var list = code.Blocks;
        bool any = false;
        int kept = 0;
        for (int i = 0; i < list.Count; i++)
        {
            var b = list[i];
            if (!b.Valid) continue;
            if (b.Overlaps(pa, size))
            {
                b.Valid = false;
                _blocks.Remove(b.Key);
                any = true;
                continue;
            }
            list[kept++] = b;
        }
        list.RemoveRange(kept, list.Count - kept);
        // The instruction may have rewritten code of the block now executing.
        if (any) _exitAfterInstruction = true;
    }

    // The VMM wrote guest memory (an interrupt frame, a loader, page-table bits).
    private void OnVmmWrite(ulong gpa, int length)
    {
        ulong end = gpa + (ulong)length;
        for (ulong at = gpa; at < end;)
        {
            // A write over 64 whole pages no code was decoded from passes them in one step: a
            // restore zeroes all RAM first, and a page at a time took 0.2 ms of 128 MiB.
            if (end - at >= 64 * GuestMemory.PageSize && NoCodeIn64PagesFrom(at)) { at += 64 * GuestMemory.PageSize; continue; }
            int n = (int)(Math.Min(end, (at & PageMask) + GuestMemory.PageSize) - at);
            if (IsCodePage(at & PageMask)) InvalidateCode(at, n);
            at += (ulong)n;
        }
    }

    // Whether `at` begins a word of the code-page bitmap (64 pages of one RAM region) that is all clear.
    private bool NoCodeIn64PagesFrom(ulong at)
    {
        if ((at & ~PageMask) != 0) return false;
        int i = RegionOf(at);
        if (i < 0) return false;
        ulong n = (at - _ram[i].GuestBase) / GuestMemory.PageSize;
        return n % 64 == 0 && n / 64 < (ulong)_codePages[i].Length && (n + 64) * GuestMemory.PageSize <= _ram[i].Size && _codePages[i][n / 64] == 0;
    }

    /// <summary>Forgets every decoded block (memory was replaced wholesale: a snapshot restore, a new state).</summary>
    internal void InvalidateAllCode()
    {
        foreach (var b in _blocks.Values) b.Valid = false;
        _blocks.Clear();
        // No block is decoded while another executes, so the one executing now, if any, is
        // done with its instructions before the next decode overwrites them.
        _decoded.Reset();
        _blocksByPage.Clear();
        foreach (var bits in _codePages) Array.Clear(bits);
        _mapGeneration++;
        FlushWriteTlb();
    }
}
