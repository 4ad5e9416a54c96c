using System.Buffers.Binary;
using ZstdSharp;

namespace VmReplay.Recorder.Format;

/// <summary>
/// Decompresses a zstd frame only after checking the content size its header declares against a
/// limit and against the frame's own size, so that a small frame cannot ask for gigabytes (zstd
/// turns a few bytes into up to 128 KiB of one repeated byte).
/// </summary>
public static class ZstdFrame
{
    [ThreadStatic] private static Decompressor? t_decompressor;

    /// <summary>
    /// The frame's content, at most <paramref name="maxBytes"/> bytes and at most
    /// <paramref name="maxExpansion"/> times the frame's size; throws <see cref="FormatException"/>
    /// saying which limit a frame breaks, or why it does not decode, before allocating for it.
    /// </summary>
    public static byte[] Decompress(ReadOnlySpan<byte> frame, int maxBytes, int maxExpansion)
    {
        ulong declared;
        try { declared = Decompressor.GetDecompressedSize(frame); }
        catch (ZstdException e) { throw new FormatException($"not a zstd frame that declares its size ({e.Message})"); }
        if (declared > (ulong)maxBytes) throw new FormatException($"its zstd frame declares {declared} bytes, more than the {maxBytes} the format allows");
        if (declared > (ulong)frame.Length * (ulong)maxExpansion)
            throw new FormatException($"its zstd frame declares {declared} bytes from {frame.Length}, more than {maxExpansion} times its size");
        var content = new byte[declared];
        int written;
        try
        {
            // One decompression context per thread, not one per frame: a trace of 16-event
            // chunks made and freed 12,500 of them in a replay.
            written = (t_decompressor ??= new Decompressor()).Unwrap(frame, content);
        }
        catch (ZstdException e) { throw new FormatException($"its zstd frame does not decode ({e.Message})"); }
        catch (ArgumentException e) { throw new FormatException($"its zstd frame holds more than the {declared} bytes it declares ({e.Message})"); }
        if ((ulong)written != declared) throw new FormatException($"its zstd frame decodes to {written} bytes, not the {declared} it declares");
        return content;
    }

    /// <summary>The fewest bytes <see cref="WriteSkippable"/> writes: a skippable frame's magic and length.</summary>
    public const int SkippableFrameHeader = 8;

    /// <summary>
    /// Writes a skippable frame of <paramref name="into"/>'s length (at least
    /// <see cref="SkippableFrameHeader"/>), whose content zstd decoders pass over: a frame
    /// followed by it decodes to what the frame alone does.
    /// </summary>
    public static void WriteSkippable(Span<byte> into)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(into, 0x184D2A50);
        BinaryPrimitives.WriteUInt32LittleEndian(into[4..], (uint)(into.Length - SkippableFrameHeader));
        into[SkippableFrameHeader..].Clear();
    }
}
