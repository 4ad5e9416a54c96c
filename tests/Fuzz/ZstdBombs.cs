using System.Buffers.Binary;

namespace VmReplay.Fuzz;

/// <summary>
/// zstd frames written by hand: <paramref name="size"/> bytes of one value as RLE blocks (four
/// bytes per 128 KiB), declaring their size in the frame header, as any zstd decoder reads them.
/// </summary>
public static class ZstdBombs
{
    private const int MaxBlock = 128 << 10;

    /// <summary>A frame that decodes to <paramref name="size"/> copies of <paramref name="value"/>.</summary>
    public static byte[] Rle(byte value, long size)
    {
        long blocks = Math.Max(1, (size + MaxBlock - 1) / MaxBlock);
        var frame = new byte[4 + 1 + 1 + 8 + 4 * blocks];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 0xFD2FB528);
        frame[4] = 0xC0;       // 8-byte content size, a window descriptor, no checksum
        frame[5] = (17 - 10) << 3; // a 128 KiB window
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(6), (ulong)size);
        int at = 14;
        for (long b = 0; b < blocks; b++, at += 4)
        {
            uint blockSize = (uint)Math.Min(MaxBlock, size - b * MaxBlock);
            uint header = (b == blocks - 1 ? 1u : 0u) | 1u << 1 | blockSize << 3; // last, type 1 (RLE), size
            frame[at] = (byte)header;
            frame[at + 1] = (byte)(header >> 8);
            frame[at + 2] = (byte)(header >> 16);
            frame[at + 3] = value;
        }
        return frame;
    }
}
