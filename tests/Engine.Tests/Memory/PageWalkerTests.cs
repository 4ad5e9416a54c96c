using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Tests.Memory;

public sealed class PageWalkerTests : IDisposable
{
    private const ulong P = 1, W = 2, U = 4, PS = 0x80, NX = 1UL << 63;
    private const ulong Cr0Pe = 1, Cr0Wp = 1 << 16, Cr0Pg = 1UL << 31;
    private const ulong Cr4Pse = 1 << 4, Cr4Pae = 1 << 5, Cr4Smep = 1 << 20;
    private const ulong EferLme = 1 << 8, EferLma = 1 << 10, EferNxe = 1 << 11;
    private readonly GuestMemory _m = GuestMemory.CreatePcLayout(32UL << 20);

    public void Dispose() => _m.Dispose();

    private PageTranslation T(PagingContext ctx, ulong va, PageAccess a = PageAccess.Read) => PageWalker.Translate(_m, ctx, va, a);

    [Fact]
    public void NoPagingIsIdentity()
    {
        var ctx = new PagingContext(Cr0Pe, 0, 0, 0);
        Assert.Equal(PagingMode.None, ctx.Mode);
        Assert.Equal(0x12345678UL, T(ctx, 0x12345678).PhysicalAddress);
        Assert.Equal(0xB8000UL, T(new PagingContext(0, 0, 0, 0), 0xB8000).PhysicalAddress); // real mode: linear = physical
    }

    [Fact]
    public void ThirtyTwoBitWith4KPagesAnd4MPages()
    {
        // PD at 0x10000; PDE 1 -> PT at 0x11000; PTE 5 -> frame 0x200000. PDE 2 is a 4 MiB page at 0x800000.
        _m.WriteUInt32(0x10000 + 1 * 4, 0x11000 | (uint)(P | W));
        _m.WriteUInt32(0x11000 + 5 * 4, 0x200000 | (uint)(P | W));
        _m.WriteUInt32(0x10000 + 2 * 4, 0x800000 | (uint)(P | PS));
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x10000, Cr4Pse, 0);
        Assert.Equal(PagingMode.ThirtyTwoBit, ctx.Mode);
        var t = T(ctx, (1u << 22) | (5u << 12) | 0xABC);
        Assert.True(t.IsValid);
        Assert.Equal(0x200ABCUL, t.PhysicalAddress);
        Assert.Equal(0x812345UL, T(ctx, (2u << 22) | 0x12345).PhysicalAddress);
        Assert.Equal(4UL << 20, T(ctx, 2u << 22).PageSize);
        // Not present: #PF with P=0.
        var miss = T(ctx, 3u << 22);
        Assert.Equal(PageTranslationStatus.PageFault, miss.Status);
        Assert.Equal(0u, miss.PageFaultErrorCode);
        // Without CR4.PSE the PS bit is ignored and the entry is a page-table pointer.
        Assert.NotEqual(0x812345UL, T(ctx with { Cr4 = 0 }, (2u << 22) | 0x12345).PhysicalAddress);
    }

    [Fact]
    public void WriteProtectionUserAndSupervisor()
    {
        _m.WriteUInt32(0x10000, 0x11000 | (uint)(P | W | U));
        _m.WriteUInt32(0x11000, 0x300000 | (uint)P);          // read-only, supervisor
        _m.WriteUInt32(0x11000 + 4, 0x301000 | (uint)(P | U)); // read-only, user
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x10000, 0, 0);
        Assert.True(T(ctx, 0, PageAccess.Write).IsValid); // CR0.WP=0: supervisor may write read-only pages
        var wp = T(ctx with { Cr0 = ctx.Cr0 | Cr0Wp }, 0, PageAccess.Write);
        Assert.Equal(PageTranslationStatus.PageFault, wp.Status);
        Assert.Equal(3u, wp.PageFaultErrorCode); // present | write
        var user = T(ctx, 0, PageAccess.User);
        Assert.Equal(5u, user.PageFaultErrorCode); // present | user
        Assert.True(T(ctx, 0x1000, PageAccess.User).IsValid);
        Assert.Equal(7u, T(ctx, 0x1000, PageAccess.User | PageAccess.Write).PageFaultErrorCode);
    }

    [Fact]
    public void PaeWith2MAnd4KPages()
    {
        // CR3 -> PDPT at 0x20000 (32-byte aligned); PDPTE 1 -> PD at 0x21000; PDE 3 = 2 MiB page at 0x600000; PDE 4 -> PT 0x22000.
        _m.WriteUInt64(0x20000 + 8, 0x21000 | P);
        _m.WriteUInt64(0x21000 + 3 * 8, 0x600000 | P | W | PS);
        _m.WriteUInt64(0x21000 + 4 * 8, 0x22000 | P | W);
        _m.WriteUInt64(0x22000 + 7 * 8, 0x1234000 | P | W);
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x20000, Cr4Pae, 0);
        Assert.Equal(PagingMode.Pae, ctx.Mode);
        Assert.Equal(0x6ABCDEUL, T(ctx, (1u << 30) | (3u << 21) | 0xABCDE).PhysicalAddress);
        Assert.Equal(0x1234567UL, T(ctx, (1u << 30) | (4u << 21) | (7u << 12) | 0x567).PhysicalAddress);
        Assert.Equal(PageTranslationStatus.PageFault, T(ctx, 2u << 30).Status);
    }

    [Fact]
    public void FourLevelWith1G2MAnd4KPagesAndNx()
    {
        // Higher-half mapping: PML4[511] -> PDPT 0x31000; PDPT[510] -> PD 0x32000; PD[0] -> PT 0x33000; PT[1] -> 0x400000 (NX).
        // PML4[0] -> PDPT 0x34000; PDPT[1] = 1 GiB page at 0 (identity for 1G..2G maps to 0).
        _m.WriteUInt64(0x30000 + 511 * 8, 0x31000 | P | W);
        _m.WriteUInt64(0x31000 + 510 * 8, 0x32000 | P | W);
        _m.WriteUInt64(0x32000, 0x33000 | P | W);
        _m.WriteUInt64(0x32000 + 8, 0xA00000 | P | PS);
        _m.WriteUInt64(0x33000 + 8, 0x400000 | P | W | NX);
        _m.WriteUInt64(0x30000, 0x34000 | P | W);
        _m.WriteUInt64(0x34000 + 8, 0x0 | P | W | PS);
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x30000, Cr4Pae, EferLme | EferLma | EferNxe);
        Assert.Equal(PagingMode.FourLevel, ctx.Mode);
        ulong kernel = 0xFFFF_FFFF_8000_0000UL;
        Assert.Equal(0x400123UL, T(ctx, kernel + 0x1123).PhysicalAddress);
        Assert.Equal(0xA12345UL, T(ctx, kernel + 0x200000 + 0x12345).PhysicalAddress);
        Assert.Equal(0x123456UL, T(ctx, 0x4012_3456).PhysicalAddress);
        Assert.Equal(1UL << 30, T(ctx, 0x4000_0000).PageSize);
        var fetch = T(ctx, kernel + 0x1000, PageAccess.Execute);
        Assert.Equal(PageTranslationStatus.PageFault, fetch.Status);
        Assert.Equal(0x11u, fetch.PageFaultErrorCode); // present | instruction fetch
        // Without EFER.NXE, bit 63 is reserved (SDM vol. 3A, 4.5.4): a reserved-bit fault, not an ignored bit.
        var reserved = T(ctx with { Efer = EferLme | EferLma }, kernel + 0x1000, PageAccess.Execute);
        Assert.Equal((PageTranslationStatus.PageFault, 0x9u), (reserved.Status, reserved.PageFaultErrorCode)); // present | reserved bit
        Assert.Equal(PageTranslationStatus.NonCanonical, T(ctx, 0x0000_8000_0000_0000).Status);
    }

    [Fact]
    public void SmepStopsSupervisorFetchesFromUserPagesOnly()
    {
        // 4-level paging without NXE: PML4[0] -> PDPT 0x31000 -> PD 0x32000 -> PT 0x33000; PT[1] a user page, PT[2] a supervisor page.
        _m.WriteUInt64(0x30000, 0x31000 | P | W | U);
        _m.WriteUInt64(0x31000, 0x32000 | P | W | U);
        _m.WriteUInt64(0x32000, 0x33000 | P | W | U);
        _m.WriteUInt64(0x33000 + 8, 0x400000 | P | W | U);
        _m.WriteUInt64(0x33000 + 16, 0x500000 | P | W);
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x30000, Cr4Pae, EferLme | EferLma);
        var smep = ctx with { Cr4 = Cr4Pae | Cr4Smep };
        Assert.Equal(PageTranslationStatus.Ok, T(ctx, 0x1000, PageAccess.Execute).Status);
        var denied = T(smep, 0x1000, PageAccess.Execute);
        // Present | instruction fetch: with SMEP the I/D bit is defined even without NXE (SDM vol. 3A, 4.7).
        Assert.Equal((PageTranslationStatus.PageFault, 0x11u), (denied.Status, denied.PageFaultErrorCode));
        Assert.Equal(PageTranslationStatus.Ok, T(smep, 0x1000, PageAccess.Execute | PageAccess.User).Status);
        Assert.Equal(PageTranslationStatus.Ok, T(smep, 0x1000, PageAccess.Read).Status);
        Assert.Equal(0x500000UL, T(smep, 0x2000, PageAccess.Execute).PhysicalAddress);
    }

    [Fact]
    public void TablesOutsideRamAreReported()
    {
        _m.WriteUInt64(0x30000, 0x7000_0000 | P | W); // PDPT far beyond 32 MiB of RAM
        var ctx = new PagingContext(Cr0Pe | Cr0Pg, 0x30000, Cr4Pae, EferLme | EferLma);
        Assert.Equal(PageTranslationStatus.TableOutsideRam, T(ctx, 0x1000).Status);
    }
}
