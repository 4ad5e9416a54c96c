using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>
/// The Multiboot 1 header (Multiboot Specification 0.6.96, section 3.1.1): within the first
/// 8192 bytes, 32-bit aligned, magic 0x1BADB002 with flags and checksum summing to zero.
/// </summary>
public sealed record MultibootHeader(int FileOffset, uint Flags, uint HeaderAddr, uint LoadAddr, uint LoadEndAddr, uint BssEndAddr, uint EntryAddr)
{
    public const uint Magic = 0x1BADB002;
    public const uint FlagPageAlign = 1 << 0;
    public const uint FlagMemoryInfo = 1 << 1;
    public const uint FlagVideoMode = 1 << 2;
    public const uint FlagAoutKludge = 1 << 16;
    private const int SearchBytes = 8192;

    /// <summary>The header, or null when there is none.</summary>
    public static MultibootHeader? Find(ReadOnlySpan<byte> image)
    {
        int limit = Math.Min(image.Length, SearchBytes) - 12;
        for (int at = 0; at <= limit; at += 4)
        {
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(image[at..]);
            if (magic != Magic) continue;
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image[(at + 4)..]);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(image[(at + 8)..]);
            if (unchecked(magic + flags + checksum) != 0) continue;
            Span<uint> f = stackalloc uint[5];
            for (int i = 0; i < 5; i++)
            {
                int o = at + 12 + i * 4;
                f[i] = o + 4 <= image.Length ? BinaryPrimitives.ReadUInt32LittleEndian(image[o..]) : 0;
            }
            return new MultibootHeader(at, flags, f[0], f[1], f[2], f[3], f[4]);
        }
        return null;
    }
}
