using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Tests.Memory;

/// <summary>
/// A dirty-page log that sees every write from the moment RAM is all zeros (the software CPU's)
/// names the non-zero pages from the pages written since, without scanning RAM: it must name
/// exactly the pages a scan finds, whoever wrote them (the guest, the VMM), whatever was written
/// (zeros too), put back from a snapshot (which the log's trackers do not see), across RAM being
/// zeroed, and with trackers collecting the log at any moment.
/// </summary>
public sealed class DirtyLogNonZeroPagesTests
{
    private const ulong Page = GuestMemory.PageSize;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TheLogNamesExactlyThePagesAScanFindsNonZero(int seed)
    {
        var random = new Random(seed);
        using var m = GuestMemory.CreatePcLayout(GuestMemory.MmioHoleStart + (8UL << 20));
        // The guest's writes go to RAM directly (as the software CPU's do) and reach the log only
        // through the backend's record, which is taken and forgotten at each collection.
        var guestWritten = new HashSet<ulong>();
        var log = new DirtyLog((region, bits) =>
        {
            var r = m.Regions[region];
            foreach (ulong gpa in guestWritten.Where(r.Contains).ToList())
            {
                ulong page = (gpa - r.GuestBase) / Page;
                bits[(int)(page / 64)] |= 1UL << (int)(page % 64);
                guestWritten.Remove(gpa);
            }
        }, m, seesEveryWrite: true);
        var trackers = new List<DirtyPageTracker>();
        ulong RandomPage()
        {
            var r = m.Regions[random.Next(m.Regions.Count)];
            // Mostly a few pages (written again and again), sometimes anywhere.
            ulong pages = r.Size / Page;
            return r.GuestBase + (ulong)(random.Next(4) == 0 ? random.NextInt64((long)pages) : random.Next(40)) * Page;
        }
        for (int step = 0; step < 400; step++)
        {
            ulong page = RandomPage();
            int offset = random.Next((int)Page);
            byte value = random.Next(3) == 0 ? (byte)0 : (byte)random.Next(1, 256);
            switch (random.Next(8))
            {
                case 0 or 1 or 2:
                    m.GetSpan(page + (ulong)offset, 1)[0] = value;
                    guestWritten.Add(page);
                    break;
                case 3 or 4:
                    m.WriteByte(page + (ulong)offset, value);
                    break;
                case 5:
                    // A whole page written back to zeros.
                    m.Write(page, new byte[Page]);
                    break;
                case 6:
                    if (random.Next(2) == 0) trackers.Add(log.CreateTracker());
                    else if (trackers.Count > 0) trackers[random.Next(trackers.Count)].Pages();
                    break;
                case 7:
                    // A page put back from a snapshot; now and then after RAM was zeroed (a restore).
                    if (random.Next(6) == 0) m.Clear();
                    var restored = new byte[Page];
                    restored[offset] = value;
                    m.RestorePage(page, restored);
                    break;
            }
            if (step % 7 == 0) Assert.Equal(m.NonZeroPages(), log.NonZeroPages());
        }
        Assert.Equal(m.NonZeroPages(), log.NonZeroPages());
        Assert.NotEmpty(m.NonZeroPages());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APageRestoredIsFoundWithOrWithoutRamZeroedBefore(bool clear)
    {
        using var m = GuestMemory.CreatePcLayout(16UL << 20);
        var log = new DirtyLog((_, _) => { }, m, seesEveryWrite: true);
        m.WriteByte(2 * Page, 1);
        Assert.Equal([2 * Page], log.NonZeroPages());
        if (clear) m.Clear();
        var page = new byte[Page];
        page[5] = 9;
        m.RestorePage(7 * Page, page);
        m.WriteByte(11 * Page, 3);
        Assert.Equal(clear ? [7 * Page, 11 * Page] : [2 * Page, 7 * Page, 11 * Page], log.NonZeroPages());
        Assert.Equal(m.NonZeroPages(), log.NonZeroPages());
    }

    [Fact]
    public void ALogThatDoesNotSeeEveryWriteScansRam()
    {
        using var m = GuestMemory.CreatePcLayout(16UL << 20);
        // A guest write the backend's log never reports (KVM's log makes no such promise).
        var log = new DirtyLog((_, _) => { }, m);
        m.GetSpan(3 * Page, 1)[0] = 1;
        m.WriteByte(9 * Page, 2);
        Assert.Equal([3 * Page, 9 * Page], log.NonZeroPages());
    }
}
