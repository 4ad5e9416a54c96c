using VmReplay.Engine.Native;

namespace VmReplay.Engine.Memory;

/// <summary>
/// Reads a whole file, as <see cref="File.ReadAllBytes"/> does, into an array whose memory the
/// kernel hands over in 2 MiB pages where it can (transparent huge pages, asked for with
/// madvise). A fresh array's 4 KiB pages each cost a page fault when first written, and the
/// Linux vmlinux (35 MB) took 8,700 of them, most of the 38 ms `run` spent before the guest's
/// first instruction: the Linux boot's `run` 207.7 -> 199.0 ms and `record` 224.6 -> 210.3 ms
/// (15 alternating rounds, native build).
/// </summary>
public static class FileContents
{
    // Smaller files have too few pages for it to matter, and an array's interior holds no whole
    // 2 MiB page below twice that.
    private const long HugePageSize = 2L << 20;
    private const long LargeFile = 2 * HugePageSize;

    /// <summary>The file's bytes; throws what <see cref="File.ReadAllBytes"/> throws.</summary>
    public static byte[] Read(string path)
    {
        using var file = File.OpenHandle(path);
        long length = RandomAccess.GetLength(file);
        // File.ReadAllBytes says why a file this long cannot be read into an array.
        if (length > Array.MaxLength) return File.ReadAllBytes(path);
        // Pinned: the advice holds for addresses, so the array must not move before it is filled.
        bool large = length >= LargeFile;
        var bytes = GC.AllocateUninitializedArray<byte>((int)length, pinned: large);
        if (large) AdviseHugePages(bytes);
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(file, bytes.AsSpan(read), read);
            // A file cut short while read: what File.ReadAllBytes would return, the bytes there are.
            if (n == 0) return bytes.AsSpan(0, read).ToArray();
            read += n;
        }
        return bytes;
    }

    // Advice only: where the kernel has no transparent huge pages, nothing changes.
    private static unsafe void AdviseHugePages(byte[] bytes)
    {
        fixed (byte* start = bytes)
        {
            ulong first = ((ulong)start + (ulong)HugePageSize - 1) & ~((ulong)HugePageSize - 1);
            ulong end = ((ulong)start + (ulong)bytes.Length) & ~((ulong)HugePageSize - 1);
            if (end > first) Libc.Madvise((void*)first, (nuint)(end - first), Libc.MADV_HUGEPAGE);
        }
    }
}
