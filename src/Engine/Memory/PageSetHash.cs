using System.Security.Cryptography;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The hash that stands for a set of guest pages: SHA-256 over each page's guest-physical address
/// (u64, little-endian) and its 4 KiB of contents, in the order given, truncated to 64 bits.
/// The same value whether the pages are read from RAM or from a snapshot's copy.
/// </summary>
public static class PageSetHash
{
    public static ulong Of(GuestMemory memory, IEnumerable<ulong> pages)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (ulong gpa in pages) Append(sha, gpa, memory.GetSpan(gpa, (int)GuestMemory.PageSize));
        return Finish(sha);
    }

    /// <summary>
    /// Hash of the page addresses alone. Which pages a stretch of guest code writes follows its
    /// control flow; what it writes there can also carry values the VMM cannot record (RDTSC).
    /// </summary>
    public static ulong OfAddresses(IEnumerable<ulong> pages)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> address = stackalloc byte[8];
        foreach (ulong gpa in pages)
        {
            BitConverter.TryWriteBytes(address, gpa);
            sha.AppendData(address);
        }
        return Finish(sha);
    }

    /// <summary><paramref name="data"/> holds the pages of <paramref name="pages"/> back to back.</summary>
    public static ulong Of(IReadOnlyList<ulong> pages, ReadOnlySpan<byte> data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int i = 0; i < pages.Count; i++)
            Append(sha, pages[i], data.Slice(i * (int)GuestMemory.PageSize, (int)GuestMemory.PageSize));
        return Finish(sha);
    }

    private static void Append(IncrementalHash sha, ulong gpa, ReadOnlySpan<byte> page)
    {
        Span<byte> address = stackalloc byte[8];
        BitConverter.TryWriteBytes(address, gpa);
        sha.AppendData(address);
        sha.AppendData(page);
    }

    private static ulong Finish(IncrementalHash sha)
    {
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return BitConverter.ToUInt64(digest);
    }
}
