using System.Runtime.InteropServices;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The pages of a RAM region the host kernel has populated, from /proc/self/pagemap (one u64 per
/// page: bit 63 present, bit 62 swapped; an unprivileged reader gets these flags with the frame
/// numbers zeroed). A page of a private anonymous mapping that is neither was never touched or
/// was dropped by MADV_DONTNEED, and reads as zeros, so only populated pages can hold anything
/// else. Reading a never-touched page would fault it in: skipping them is what makes a scan of
/// mostly unused RAM cheap.
/// </summary>
internal static unsafe class PopulatedPages
{
    private const ulong Present = 1UL << 63;
    private const ulong Swapped = 1UL << 62;
    private const int EntrySize = 8;

    // Pagemap entries read per pread: 32 KiB of entries, on the stack, cover 16 MiB of RAM. A new
    // 128 KiB array for every scan (each full snapshot, the end of every recording and replay)
    // was garbage for the collector; one rented from ArrayPool<ulong> cost the recording's vCPU
    // thread the JIT of that pool's code, which no precompiled image holds.
    private const int EntriesPerRead = 1 << 12;

    /// <summary>
    /// Adds the guest-physical address of every populated page of <paramref name="region"/> to
    /// <paramref name="pages"/>, in address order; every page of it when pagemap cannot be read
    /// (a kernel without it, or a sandbox that hides it): slower, never wrong.
    /// </summary>
    public static void AddTo(List<ulong> pages, GuestMemoryRegion region)
    {
        int countBefore = pages.Count;
        if (TryAdd(pages, region)) return;
        pages.RemoveRange(countBefore, pages.Count - countBefore);
        for (ulong at = 0; at < region.Size; at += GuestMemory.PageSize) pages.Add(region.GuestBase + at);
    }

    private static bool TryAdd(List<ulong> pages, GuestMemoryRegion region)
    {
        int fd = Libc.Open("/proc/self/pagemap", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0) return false;
        try
        {
            if (!ReportsPresence(fd)) return false;
            ulong total = region.Size / GuestMemory.PageSize;
            ulong firstHostPage = (ulong)region.HostAddress / GuestMemory.PageSize;
            Span<ulong> entries = stackalloc ulong[EntriesPerRead];
            for (ulong done = 0; done < total;)
            {
                int n = (int)Math.Min(total - done, EntriesPerRead);
                if (!TryRead(fd, (long)((firstHostPage + done) * EntrySize), entries[..n])) return false;
                for (int i = 0; i < n; i++)
                    if ((entries[i] & (Present | Swapped)) != 0)
                        pages.Add(region.GuestBase + (done + (ulong)i) * GuestMemory.PageSize);
                done += (ulong)n;
            }
            return true;
        }
        finally { Libc.Close(fd); }
    }

    // A pagemap that can be read but does not report the flags (an emulated /proc) would make
    // every page look untouched and the scan skip real data: the stack page this method runs on
    // must show as present.
    private static bool ReportsPresence(int fd)
    {
        ulong entry = 0;
        long offset = (long)((ulong)&entry / GuestMemory.PageSize * EntrySize);
        return TryRead(fd, offset, new Span<ulong>(&entry, 1)) && (entry & Present) != 0;
    }

    private static bool TryRead(int fd, long offset, Span<ulong> entries)
    {
        int wanted = entries.Length * EntrySize, got = 0;
        fixed (ulong* p = entries)
            while (got < wanted)
            {
                nint n = Libc.Pread(fd, (byte*)p + got, (nuint)(wanted - got), offset + got);
                if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
                // pagemap hands out whole entries; a short read of zero bytes means the range is not mapped.
                if (n <= 0 || n % EntrySize != 0) return false;
                got += (int)n;
            }
        return true;
    }
}
