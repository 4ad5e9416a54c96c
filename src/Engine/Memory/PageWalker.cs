namespace VmReplay.Engine.Memory;

/// <summary>
/// Translates guest linear addresses through the guest's own page tables, as the MMU would
/// (Intel SDM vol. 3A, chapter 4): no paging, 32-bit (with PSE 4 MiB pages), PAE and 4-level.
/// Reads tables only: accessed and dirty bits are not set, so a debugger can look without
/// touching the guest.
/// </summary>
public static class PageWalker
{
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;
    private const ulong Present = 1, Writable = 2, UserBit = 4, LargePage = 0x80;
    private const ulong NoExecute = 1UL << 63;

    // #PF error code bits (SDM 4.7).
    private const uint PfPresent = 1, PfWrite = 2, PfUser = 4, PfFetch = 16;

    public static PageTranslation Translate(GuestMemory memory, in PagingContext ctx, ulong linear, PageAccess access = PageAccess.Read)
    {
        switch (ctx.Mode)
        {
            case PagingMode.None:
                return new PageTranslation(PageTranslationStatus.Ok, linear & 0xFFFF_FFFF, 0, 1UL << 32);
            case PagingMode.ThirtyTwoBit:
                return Walk32(memory, ctx, (uint)linear, access);
            case PagingMode.Pae:
                return WalkLong(memory, ctx, linear & 0xFFFF_FFFF, access, levels: 3);
            case PagingMode.FourLevel:
                if (!IsCanonical48(linear)) return new PageTranslation(PageTranslationStatus.NonCanonical, 0, 0, 0);
                return WalkLong(memory, ctx, linear, access, levels: 4);
            default:
                return new PageTranslation(PageTranslationStatus.Unsupported, 0, 0, 0);
        }
    }

    /// <summary>True if bits 63:47 of <paramref name="linear"/> are all equal.</summary>
    public static bool IsCanonical48(ulong linear) => (ulong)((long)(linear << 16) >> 16) == linear;

    private static PageTranslation Walk32(GuestMemory m, in PagingContext ctx, uint linear, PageAccess access)
    {
        ulong pdeAddr = (ctx.Cr3 & 0xFFFF_F000) + ((linear >> 22) & 0x3FF) * 4;
        if (!TryRead32(m, pdeAddr, out uint pde)) return Outside();
        if ((pde & Present) == 0) return Fault(false, access);
        if ((pde & LargePage) != 0 && (ctx.Cr4 & PagingContext.Cr4Pse) != 0)
        {
            // PSE-36: bits 20:13 of the PDE are physical address bits 39:32.
            ulong pa = (pde & 0xFFC0_0000UL) | ((ulong)((pde >> 13) & 0xFF) << 32) | (linear & 0x3F_FFFFu);
            return Check(ctx, access, pa, 4UL << 20, writable: (pde & Writable) != 0, user: (pde & UserBit) != 0, nx: false);
        }
        ulong pteAddr = (pde & 0xFFFF_F000UL) + ((linear >> 12) & 0x3FF) * 4;
        if (!TryRead32(m, pteAddr, out uint pte)) return Outside();
        if ((pte & Present) == 0) return Fault(false, access);
        return Check(ctx, access, (pte & 0xFFFF_F000UL) | (linear & 0xFFFu), 4096,
            writable: (pde & pte & Writable) != 0, user: (pde & pte & UserBit) != 0, nx: false);
    }

    private static PageTranslation WalkLong(GuestMemory m, in PagingContext ctx, ulong linear, PageAccess access, int levels)
    {
        bool nxe = (ctx.Efer & PagingContext.EferNxe) != 0;
        bool writable = true, user = true, nx = false;
        ulong table;
        int level;
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
            writable &= (e & Writable) != 0;
            user &= (e & UserBit) != 0;
            if (nxe) nx |= (e & NoExecute) != 0;
            ulong pageSize = 1UL << shift;
            if (level == 1 || ((level == 2 || level == 3) && (e & LargePage) != 0))
            {
                ulong frame = e & AddressMask & ~(pageSize - 1);
                return Check(ctx, access, frame | (linear & (pageSize - 1)), pageSize, writable, user, nx);
            }
            table = e & AddressMask;
            level--;
        }
    }

    private static PageTranslation Check(in PagingContext ctx, PageAccess access, ulong pa, ulong pageSize, bool writable, bool user, bool nx)
    {
        bool isUser = (access & PageAccess.User) != 0;
        if (isUser && !user) return Fault(true, access);
        if ((access & PageAccess.Write) != 0 && !writable && (isUser || (ctx.Cr0 & PagingContext.Cr0Wp) != 0))
            return Fault(true, access);
        if ((access & PageAccess.Execute) != 0 && nx) return Fault(true, access);
        return new PageTranslation(PageTranslationStatus.Ok, pa, 0, pageSize);
    }

    private static PageTranslation Fault(bool present, PageAccess access)
    {
        uint code = present ? PfPresent : 0;
        if ((access & PageAccess.Write) != 0) code |= PfWrite;
        if ((access & PageAccess.User) != 0) code |= PfUser;
        if ((access & PageAccess.Execute) != 0) code |= PfFetch;
        return new PageTranslation(PageTranslationStatus.PageFault, 0, code, 0);
    }

    private static PageTranslation Outside() => new(PageTranslationStatus.TableOutsideRam, 0, 0, 0);

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
