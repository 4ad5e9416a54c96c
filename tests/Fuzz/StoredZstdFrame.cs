using System.Buffers.Binary;

namespace VmReplay.Fuzz;

/// <summary>
/// Content as a zstd frame of raw (stored) blocks, written by hand, which any zstd decoder reads:
/// a trace's chunk built with exactly the bytes a test or a mutation chose, however well they
/// would compress. The recorder wrote such frames for batches that compressed better than a
/// reader accepts until it padded those instead (format version 7).
/// </summary>
public static class StoredZstdFrame
{
    public static byte[] Of(ReadOnlySpan<byte> content)
    {
        const int maxBlock = 128 << 10; // zstd's largest block
        int blocks = Math.Max(1, (content.Length + maxBlock - 1) / maxBlock);
        var frame = new byte[4 + 1 + 8 + 3 * blocks + content.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 0xFD2FB528); // magic
        frame[4] = 0xE0; // 8-byte content size, single segment: no window descriptor, no checksum
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(5), (ulong)content.Length);
        int at = 13;
        for (int b = 0, start = 0; b < blocks; b++, start += maxBlock)
        {
            int size = Math.Min(maxBlock, content.Length - start);
            uint header = (b == blocks - 1 ? 1u : 0u) | (uint)size << 3; // last flag, type 0 (raw), size
            frame[at] = (byte)header;
            frame[at + 1] = (byte)(header >> 8);
            frame[at + 2] = (byte)(header >> 16);
            content.Slice(start, size).CopyTo(frame.AsSpan(at + 3));
            at += 3 + size;
        }
        return frame;
    }
}
