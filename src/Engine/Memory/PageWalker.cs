namespace VmReplay.Engine.Memory;

/// <summary>
/// Translates guest linear addresses through the guest's own page tables, as the MMU would
/// (Intel SDM vol. 3A, chapter 4): no paging, 32-bit (with PSE 4 MiB pages), PAE and 4-level,
/// with the permission checks of the access and reserved-bit checks (#PF error code bit 3).
/// <see cref="Translate"/> reads tables only, so a debugger can look without touching the guest;
/// <see cref="Walk"/> is the MMU's own walk, which also sets accessed and dirty bits and reports
/// the rights the mapping grants so that a TLB can cache it.
/// </summary>
public static class PageWalker
{
    private const ulong Present = 1, Writable = 2, UserBit = 4, Accessed = 0x20, Dirty = 0x40, LargePage = 0x80;
    private const ulong NoExecute = 1UL << 63;

    /// <summary>
    /// The physical-address width the walker assumes (CPUID 0x80000008 EAX[7:0] of the software
    /// CPU): entry bits 51:40 are reserved.
    /// </summary>
    public const int MaxPhysicalAddressBits = 40;
    private const ulong AddressMask = ((1UL << MaxPhysicalAddressBits) - 1) & ~0xFFFUL;
    private const ulong ReservedHigh = ((1UL << 52) - 1) & ~((1UL << MaxPhysicalAddressBits) - 1);

    // #PF error code bits (SDM 4.7).
    private const uint PfPresent = 1, PfWrite = 2, PfUser = 4, PfReserved = 8, PfFetch = 16;

    /// <summary>Translates <paramref name="linear"/> for <paramref name="access"/> without changing guest memory.</summary>
    public static PageTranslation Translate(GuestMemory memory, in PagingContext ctx, ulong linear, PageAccess access = PageAccess.Read) =>
        Walk(memory, ctx, linear, access, updateTables: false, gigabytePages: true);

    /// <summary>
    /// Translates <paramref name="linear"/> for <paramref name="access"/>. With
    /// <paramref name="updateTables"/>, sets the accessed bit of every entry used and, for a write,
    /// the dirty bit of the page's entry, as the processor does on a TLB miss.
    /// <paramref name="gigabytePages"/> says whether the processor has 1 GiB pages (CPUID
    /// 0x80000001 EDX bit 26): where it has not, a PDPTE's PS bit is reserved.
    /// </summary>
    public static PageTranslation Walk(GuestMemory memory, in PagingContext ctx, ulong linear, PageAccess access, bool updateTables, bool gigabytePages)
    {
        switch (ctx.Mode)
        {
            case PagingMode.None:
                return new PageTranslation(PageTranslationStatus.Ok, linear & 0xFFFF_FFFF, 0, 1UL << 32, PageRights.All);
            case PagingMode.ThirtyTwoBit:
                return FetchBitWhereDefined(ctx, Walk32(memory, ctx, (uint)linear, access, updateTables));
            case PagingMode.Pae:
                return FetchBitWhereDefined(ctx, WalkLong(memory, ctx, linear & 0xFFFF_FFFF, access, levels: 3, updateTables, gigabytePages));
            case PagingMode.FourLevel:
                if (!IsCanonical48(linear)) return new PageTranslation(PageTranslationStatus.NonCanonical, 0, 0, 0);
                return FetchBitWhereDefined(ctx, WalkLong(memory, ctx, linear, access, levels: 4, updateTables, gigabytePages));
            default:
                return new PageTranslation(PageTranslationStatus.Unsupported, 0, 0, 0);
        }
    }

    /// <summary>True if bits 63:47 of <paramref name="linear"/> are all equal.</summary>
    public static bool IsCanonical48(ulong linear) => (ulong)((long)(linear << 16) >> 16) == linear;

    private static PageTranslation Walk32(GuestMemory m, in PagingContext ctx, uint linear, PageAccess access, bool update)
    {
        ulong pdeAddr = (ctx.Cr3 & 0xFFFF_F000) + ((linear >> 22) & 0x3FF) * 4;
        if (!TryRead32(m, pdeAddr, out uint pde)) return Outside();
        if ((pde & Present) == 0) return Fault(false, access);
        if ((pde & LargePage) != 0 && (ctx.Cr4 & PagingContext.Cr4Pse) != 0)
        {
            // PSE-36: bits 20:13 of the PDE are physical address bits 39:32; bit 21 is reserved.
            if ((pde & (1u << 21)) != 0) return Fault(true, access, reserved: true);
            var rights = Rights(writable: (pde & Writable) != 0, user: (pde & UserBit) != 0, nx: false);
            if (Denied(ctx, access, rights) is { } denied) return denied;
            if (update) SetBits32(m, pdeAddr, pde, Accessed | ((access & PageAccess.Write) != 0 ? Dirty : 0));
            ulong pa = (pde & 0xFFC0_0000UL) | ((ulong)((pde >> 13) & 0xFF) << 32) | (linear & 0x3F_FFFFu);
            return new PageTranslation(PageTranslationStatus.Ok, pa, 0, 4UL << 20, rights);
        }
        ulong pteAddr = (pde & 0xFFFF_F000UL) + ((linear >> 12) & 0x3FF) * 4;
        if (!TryRead32(m, pteAddr, out uint pte)) return Outside();
        if ((pte & Present) == 0) return Fault(false, access);
        var r = Rights(writable: (pde & pte & Writable) != 0, user: (pde & pte & UserBit) != 0, nx: false);
        if (Denied(ctx, access, r) is { } d) return d;
        if (update)
        {
            SetBits32(m, pdeAddr, pde, Accessed);
            SetBits32(m, pteAddr, pte, Accessed | ((access & PageAccess.Write) != 0 ? Dirty : 0));
        }
        return new PageTranslation(PageTranslationStatus.Ok, (pte & 0xFFFF_F000UL) | (linear & 0xFFFu), 0, 4096, r);
    }

    private static PageTranslation WalkLong(GuestMemory m, in PagingContext ctx, ulong linear, PageAccess access, int levels, bool update, bool gigabytePages)
    {
        bool nxe = (ctx.Efer & PagingContext.EferNxe) != 0;
        ulong reserved = ReservedHigh | (nxe ? 0 : NoExecute);
        bool writable = true, user = true, nx = false;
        ulong table;
        int level;
        Span<ulong> used = stackalloc ulong[4];
        Span<ulong> values = stackalloc ulong[4];
        int count = 0;
        if (levels == 3)
        {
            // PAE: CR3 points at four PDPTEs (32-byte aligned) that carry no permission bits.
            ulong pdpteAddr = (ctx.Cr3 & 0xFFFF_FFE0) + ((linear >> 30) & 3) * 8;
            if (!TryRead64(m, pdpteAddr, out ulong pdpte)) return Outside();
            if ((pdpte & Present) == 0) return Fault(false, access);
            table = pdpte & AddressMask;
            level = 2;
        }
        else
        {
            table = ctx.Cr3 & AddressMask;
            level = 4;
        }
        while (true)
        {
            int shift = 12 + 9 * (level - 1);
            ulong entryAddr = table + ((linear >> shift) & 0x1FF) * 8;
            if (!TryRead64(m, entryAddr, out ulong e)) return Outside();
            if ((e & Present) == 0) return Fault(false, access);
            bool large = (e & LargePage) != 0;
            // PS is reserved in a PML4E, and in a PDPTE where 1 GiB pages are not offered (the
            // software CPU does not offer them); a large page's low address bits are reserved.
            ulong rsvd = reserved;
            if (large && (level == 4 || level == 3 && !gigabytePages)) rsvd |= LargePage;
            else if (large && level == 3) rsvd |= 0x3FFF_E000;
            else if (large && level == 2) rsvd |= 0x1F_E000;
            if ((e & rsvd) != 0) return Fault(true, access, reserved: true);
            writable &= (e & Writable) != 0;
            user &= (e & UserBit) != 0;
            if (nxe) nx |= (e & NoExecute) != 0;
            used[count] = entryAddr;
            values[count++] = e;
            ulong pageSize = 1UL << shift;
            if (level == 1 || ((level == 2 || level == 3) && large))
            {
                var rights = Rights(writable, user, nx);
                if (Denied(ctx, access, rights) is { } denied) return denied;
                if (update)
                    for (int i = 0; i < count; i++)
                        SetBits64(m, used[i], values[i], Accessed | (i == count - 1 && (access & PageAccess.Write) != 0 ? Dirty : 0));
                ulong frame = e & AddressMask & ~(pageSize - 1);
                return new PageTranslation(PageTranslationStatus.Ok, frame | (linear & (pageSize - 1)), 0, pageSize, rights);
            }
            table = e & AddressMask;
            level--;
        }
    }

    private static PageRights Rights(bool writable, bool user, bool nx) =>
        (writable ? PageRights.Write : 0) | (user ? PageRights.User : 0) | (nx ? 0 : PageRights.Execute);

    // Supervisor writes honour CR0.WP; user accesses need the U/S bit; fetches need X, and with
    // CR4.SMEP a supervisor fetch may not come from a user page.
    private static PageTranslation? Denied(in PagingContext ctx, PageAccess access, PageRights rights)
    {
        bool isUser = (access & PageAccess.User) != 0;
        if (isUser && (rights & PageRights.User) == 0) return Fault(true, access);
        if ((access & PageAccess.Write) != 0 && (rights & PageRights.Write) == 0 && (isUser || (ctx.Cr0 & PagingContext.Cr0Wp) != 0))
            return Fault(true, access);
        if ((access & PageAccess.Execute) != 0 && (rights & PageRights.Execute) == 0) return Fault(true, access);
        if ((access & PageAccess.Execute) != 0 && !isUser && (rights & PageRights.User) != 0 && (ctx.Cr4 & PagingContext.Cr4Smep) != 0)
            return Fault(true, access);
        return null;
    }

    // The I/D bit of a #PF error code is defined where execute permission exists: with SMEP, or
    // in PAE or 4-level paging with EFER.NXE (SDM 4.7). Elsewhere it reads 0.
    private static PageTranslation FetchBitWhereDefined(in PagingContext ctx, PageTranslation t) =>
        t.Status == PageTranslationStatus.PageFault && (ctx.Cr4 & PagingContext.Cr4Smep) == 0
            && (ctx.Mode == PagingMode.ThirtyTwoBit || (ctx.Efer & PagingContext.EferNxe) == 0)
            ? t with { PageFaultErrorCode = t.PageFaultErrorCode & ~PfFetch }
            : t;

    private static PageTranslation Fault(bool present, PageAccess access, bool reserved = false)
    {
        uint code = present ? PfPresent : 0;
        if (reserved) code |= PfReserved;
        if ((access & PageAccess.Write) != 0) code |= PfWrite;
        if ((access & PageAccess.User) != 0) code |= PfUser;
        if ((access & PageAccess.Execute) != 0) code |= PfFetch;
        return new PageTranslation(PageTranslationStatus.PageFault, 0, code, 0);
    }

    private static PageTranslation Outside() => new(PageTranslationStatus.TableOutsideRam, 0, 0, 0);

    private static void SetBits32(GuestMemory m, ulong gpa, uint value, ulong bits)
    {
        if ((value & bits) != bits) m.WriteUInt32(gpa, value | (uint)bits);
    }

    private static void SetBits64(GuestMemory m, ulong gpa, ulong value, ulong bits)
    {
        // Only the low byte holds A and D: write it alone, as a locked OR would change nothing else.
        if ((value & bits) != bits) m.WriteByte(gpa, (byte)(value | bits));
    }

    private static bool TryRead32(GuestMemory m, ulong gpa, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = m.TryRead(gpa, b);
        value = ok ? BitConverter.ToUInt32(b) : 0;
        return ok;
    }

    private static bool TryRead64(GuestMemory m, ulong gpa, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = m.TryRead(gpa, b);
        value = ok ? BitConverter.ToUInt64(b) : 0;
        return ok;
    }
}
