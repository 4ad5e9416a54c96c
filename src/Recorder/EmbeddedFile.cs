using System.Security.Cryptography;
using ZstdSharp;

namespace VmReplay.Recorder;

/// <summary>
/// A file a trace carries so that it replays without the original: the guest image (IMGZ) and
/// the initrd (INRD), each one zstd frame in one chunk. The header holds each file's size and
/// SHA-256, and a reader checks the decompressed bytes against both: the chunk CRC proves the
/// frame was read as written, not that it decodes to the file that was recorded.
/// </summary>
public static class EmbeddedFile
{
    /// <summary>
    /// The largest file a trace embeds: 255 MiB, so that even an incompressible file's frame
    /// (zstd's bound is n + n/256 + a few bytes) fits one chunk's 256 MiB payload. Files are
    /// not split across chunks: that is far beyond any guest image or initrd vmreplay runs, and
    /// a fixed bound lets the recorder refuse such a file before it starts.
    /// </summary>
    public const int MaxSize = 255 << 20;

    // The Linux vmlinux with DWARF (35.7 MB) packs to 12.1 MB in 90 ms here (ZstdSharp, warm);
    // zstd's default level 3 gives 11.6 MB in 160 ms, level 1 13.5 MB in 85 ms. A recording of
    // that kernel's boot lasts about as long as packing it at level 3, and ends only when the
    // image is written. Level 9 saves another 10 % for four times the time, level 19 a quarter
    // for 35 s: not worth it on every recording.
    private const int Level = 2;

    /// <summary>Null when a file of <paramref name="size"/> bytes fits in a trace; otherwise why not, in one line.</summary>
    public static string? CheckSize(string what, string name, long size) =>
        size <= MaxSize ? null
            : $"{name}: the {what} is {size} bytes; a trace embeds files of at most {MaxSize} bytes ({MaxSize >> 20} MiB)";

    /// <summary>The lower-case hex SHA-256 the trace header records for a file.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>One zstd frame holding <paramref name="file"/>, with its size in the frame header.</summary>
    public static ReadOnlyMemory<byte> Pack(ReadOnlySpan<byte> file)
    {
        if (file.Length > MaxSize) throw new ArgumentException(CheckSize("file", "embedded file", file.Length));
        using var compressor = new Compressor(Level);
        // The frame is written in place into an array of zstd's bound (the file's size and a
        // little more) that is not zeroed first and not copied after: for the Linux vmlinux the
        // zeroing touched 35 MB, and the copy made another 12 MB array, on every recording.
        var frame = GC.AllocateUninitializedArray<byte>(Compressor.GetCompressBound(file.Length));
        return frame.AsMemory(0, compressor.Wrap(file, frame));
    }

    /// <summary>
    /// Decompresses <paramref name="frame"/> and checks that it is exactly the file of
    /// <paramref name="size"/> bytes and <paramref name="sha256"/> the header names; throws
    /// <see cref="FormatException"/> saying how it differs.
    /// </summary>
    public static byte[] Unpack(ReadOnlySpan<byte> frame, long size, string sha256)
    {
        // The size comes from the header and the frame: both are checked before anything is
        // allocated, so a damaged header cannot ask for gigabytes.
        if (size is < 0 or > MaxSize) throw new FormatException($"the header's size {size} is outside 0..{MaxSize}");
        ulong declared;
        try { declared = Decompressor.GetDecompressedSize(frame); }
        catch (ZstdException e) { throw new FormatException($"not a zstd frame with its size: {e.Message}"); }
        if (declared != (ulong)size) throw new FormatException($"the frame holds {declared} bytes, the header says {size}");
        var file = new byte[size];
        int written;
        try
        {
            using var decompressor = new Decompressor();
            written = decompressor.Unwrap(frame, file);
        }
        catch (ZstdException e) { throw new FormatException($"zstd: {e.Message}"); }
        catch (ArgumentException e) { throw new FormatException($"the frame holds more than the {size} bytes it declares ({e.Message})"); }
        if (written != size) throw new FormatException($"the frame decoded to {written} bytes, the header says {size}");
        Verify(file, size, sha256);
        return file;
    }

    /// <summary>Checks <paramref name="file"/> against the header's size and SHA-256; throws <see cref="FormatException"/>.</summary>
    public static void Verify(ReadOnlySpan<byte> file, long size, string sha256)
    {
        if (file.Length != size) throw new FormatException($"{file.Length} bytes, the header says {size}");
        string actual = Sha256(file);
        if (!actual.Equals(sha256, StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"SHA-256 {actual}, the header says {sha256}");
    }
}
