using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>The parts of an ELF executable a loader needs: class, machine, entry and PT_LOAD segments.</summary>
public sealed class ElfImage
{
    public const ushort MachineI386 = 3;
    public const ushort MachineX86_64 = 62;

    private ElfImage(bool is64, ushort machine, ulong entry, IReadOnlyList<ElfSegment> segments)
    {
        Is64 = is64;
        Machine = machine;
        Entry = entry;
        LoadSegments = segments;
    }

    public bool Is64 { get; }
    public ushort Machine { get; }
    public ulong Entry { get; }
    public IReadOnlyList<ElfSegment> LoadSegments { get; }

    public static bool HasElfMagic(ReadOnlySpan<byte> image) =>
        image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';

    /// <summary>Parses <paramref name="image"/>; throws <see cref="GuestImageException"/> naming <paramref name="source"/>.</summary>
    public static ElfImage Parse(ReadOnlySpan<byte> image, string source)
    {
        if (!HasElfMagic(image) || image.Length < 52) throw Bad(source, "not an ELF file");
        byte cls = image[4];
        if (cls != 1 && cls != 2) throw Bad(source, $"unknown ELF class {cls}");
        if (image[5] != 1) throw Bad(source, "big-endian ELF");
        bool is64 = cls == 2;
        if (is64 && image.Length < 64) throw Bad(source, "truncated ELF64 header");
        ushort type = U16(image, 16);
        if (type != 2) throw Bad(source, $"ELF type {type} is not an executable (ET_EXEC)");
        ushort machine = U16(image, 18);
        ulong entry = is64 ? U64(image, 24) : U32(image, 24);
        ulong phoff = is64 ? U64(image, 32) : U32(image, 28);
        int phentsize = U16(image, is64 ? 54 : 42);
        int phnum = U16(image, is64 ? 56 : 44);
        var segments = new List<ElfSegment>();
        for (int i = 0; i < phnum; i++)
        {
            ulong at = phoff + (ulong)(i * phentsize);
            if (at + (ulong)phentsize > (ulong)image.Length) throw Bad(source, $"program header {i} at offset {at} lies past the end of the file");
            var ph = image.Slice((int)at, phentsize);
            if (U32(ph, 0) != 1) continue; // PT_LOAD only
            ElfSegment seg = is64
                ? new(Offset: U64(ph, 8), VirtualAddress: U64(ph, 16), PhysicalAddress: U64(ph, 24), FileSize: U64(ph, 32), MemorySize: U64(ph, 40))
                : new(Offset: U32(ph, 4), VirtualAddress: U32(ph, 8), PhysicalAddress: U32(ph, 12), FileSize: U32(ph, 16), MemorySize: U32(ph, 20));
            if (seg.Offset + seg.FileSize > (ulong)image.Length)
                throw Bad(source, $"segment {i} file data ({seg.Offset:x}+{seg.FileSize:x}) lies past the end of the file");
            if (seg.FileSize > seg.MemorySize) throw Bad(source, $"segment {i} has more file bytes than memory bytes");
            segments.Add(seg);
        }
        if (segments.Count == 0) throw Bad(source, "ELF has no loadable (PT_LOAD) segment");
        return new ElfImage(is64, machine, entry, segments);
    }

    private static GuestImageException Bad(string source, string what) => new($"{source}: {what}");
    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}

/// <summary>One PT_LOAD program header.</summary>
public readonly record struct ElfSegment(ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize);
