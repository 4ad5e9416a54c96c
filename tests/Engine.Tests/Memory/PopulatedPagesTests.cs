using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Tests.Memory;

/// <summary>
/// Which pages of guest RAM the host has populated (/proc/self/pagemap), and what the scans built
/// on it (non-zero pages, clearing RAM) make of them.
/// </summary>
public sealed class PopulatedPagesTests
{
    private const ulong Page = GuestMemory.PageSize;

    // With transparent huge pages on for guest RAM (always, or on request, which GuestMemory
    // makes), one write may populate a whole 2 MiB around it: the populated set is then larger
    // than the written one, though never smaller.
    private static bool HugePagesForGuestRam =>
        File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")
        && !File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Contains("[never]");

    private static List<ulong> Populated(GuestMemory m)
    {
        var pages = new List<ulong>();
        foreach (var r in m.Regions) PopulatedPages.AddTo(pages, r);
        return pages;
    }

    private static void AssertPopulated(IEnumerable<ulong> written, List<ulong> populated)
    {
        if (HugePagesForGuestRam) Assert.Superset(written.ToHashSet(), populated.ToHashSet());
        else Assert.Equal(written, populated);
    }

    [Fact]
    public void AFreshMemoryHasExactlyTheWrittenPagesPopulated()
    {
        using var m = GuestMemory.CreatePcLayout(16UL << 20);
        Assert.Empty(Populated(m));

        m.WriteByte(0, 1);
        m.WriteUInt32(5 * Page + 100, 0xDEADBEEF);
        m.Write(9 * Page, new byte[Page]);            // zeros: populated, yet not non-zero
        m.WriteByte(m.TotalSize - 1, 0xFF);           // last byte of RAM
        m.WriteUInt32(20 * Page - 2, 0x01020304);     // crosses into page 20

        ulong last = m.TotalSize - Page;
        AssertPopulated([0, 5 * Page, 9 * Page, 19 * Page, 20 * Page, last], Populated(m));
        Assert.Equal([0, 5 * Page, 19 * Page, 20 * Page, last], m.NonZeroPages());
    }

    [Fact]
    public void TheFirstMiBsOfRamAreNotAdvisedIntoHugePages()
    {
        // A small guest and the boot structures write a few scattered pages there; a huge page
        // would be 2 MiB to zero, and to scan at every full snapshot. Where huge pages come only
        // on request (the kernel's "madvise" setting, or "never"), the writes populate exactly
        // their pages; with "always" the kernel gives them regardless of advice.
        bool always = File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")
            && File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Contains("[always]");
        using var m = GuestMemory.CreatePcLayout(64UL << 20);
        ulong[] written = [0x7000, 0x9000, 0x100000, 0x101000, 0x3FF000];
        foreach (ulong at in written) m.WriteByte(at + 1, 1);
        if (always) Assert.Superset(written.ToHashSet(), Populated(m).ToHashSet());
        else Assert.Equal(written, Populated(m));
        Assert.Equal(written, m.NonZeroPages());
    }

    [Fact]
    public void PagesAboveTheMmioHoleAreFoundAtTheirGuestPhysicalAddress()
    {
        using var m = GuestMemory.CreatePcLayout(GuestMemory.MmioHoleStart + (4UL << 20));
        Assert.Equal(2, m.Regions.Count);
        m.WriteByte(3 * Page, 7);
        m.WriteByte(GuestMemory.FourGiB + 2 * Page + 1, 9);

        AssertPopulated([3 * Page, GuestMemory.FourGiB + 2 * Page], Populated(m));
        Assert.Equal([3 * Page, GuestMemory.FourGiB + 2 * Page], m.NonZeroPages());
    }

    [Fact]
    public void ClearLeavesOnlyZerosAndNoPopulatedPages()
    {
        using var m = GuestMemory.CreatePcLayout(8UL << 20);
        var observed = new List<(ulong, int)>();
        m.WriteObserver = (gpa, length) => observed.Add((gpa, length));
        for (ulong at = 0; at < m.TotalSize; at += 3 * Page) m.WriteUInt64(at + 8, at | 0x8000_0000_0000_0000);
        observed.Clear();

        m.Clear();

        // Before any read: reading a dropped page maps the shared zero page, which counts as present.
        Assert.Empty(Populated(m));
        Assert.Empty(m.NonZeroPages());
        Assert.False(m.GetSpan(0, (int)m.TotalSize).ContainsAnyExcept((byte)0));
        // A software CPU drops the code it decoded from the cleared RAM; the VMM's writes are forgotten.
        Assert.Equal([(0UL, (int)m.TotalSize)], observed);
        var written = new ulong[DirtyLog.BitmapWords(m.Regions[0])];
        m.TakeVmmWritten(0, written);
        Assert.All(written, w => Assert.Equal(0UL, w));
    }

    [Fact]
    public void ClearedMemoryCanBeWrittenAgain()
    {
        using var m = GuestMemory.CreatePcLayout(4UL << 20);
        m.WriteUInt64(Page, 0x1122334455667788);
        m.Clear();
        m.WriteUInt64(2 * Page, 0x99);

        Assert.Equal(0UL, m.ReadUInt64(Page));
        Assert.Equal(0x99UL, m.ReadUInt64(2 * Page));
        Assert.Equal([2 * Page], m.NonZeroPages());
    }
}
