using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>The parts of an ELF executable a loader needs: class, machine, entry, PT_LOAD and PT_NOTE segments.</summary>
public sealed class ElfImage
{
    public const ushort MachineI386 = 3;
    public const ushort MachineX86_64 = 62;

    private const uint PtLoad = 1, PtNote = 4;

    private ElfImage(bool is64, ushort machine, ulong entry, IReadOnlyList<ElfSegment> segments, IReadOnlyList<ElfSegment> notes)
    {
        Is64 = is64;
        Machine = machine;
        Entry = entry;
        LoadSegments = segments;
        NoteSegments = notes;
    }

    public bool Is64 { get; }
    public ushort Machine { get; }
    public ulong Entry { get; }
    public IReadOnlyList<ElfSegment> LoadSegments { get; }
    /// <summary>PT_NOTE segments, whose file bytes hold notes such as Xen's PVH entry point.</summary>
    public IReadOnlyList<ElfSegment> NoteSegments { get; }

    public static bool HasElfMagic(ReadOnlySpan<byte> image) =>
        image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';

    /// <summary>Parses <paramref name="image"/>; throws <see cref="GuestImageException"/> naming <paramref name="source"/>.</summary>
    public static ElfImage Parse(ReadOnlySpan<byte> image, string source) =>
        Read(image, out var elf) is { } what ? throw new GuestImageException($"{source}: {what}") : elf!;

    /// <summary>The parsed image, or null for a file a loader would refuse (detection asks without failing).</summary>
    public static ElfImage? TryParse(ReadOnlySpan<byte> image) => Read(image, out var elf) is null ? elf : null;

    /// <summary>Parses into <paramref name="elf"/>; returns what is wrong, or null.</summary>
    private static string? Read(ReadOnlySpan<byte> image, out ElfImage? elf)
    {
        elf = null;
        if (!HasElfMagic(image) || image.Length < 52) return "not an ELF file";
        byte cls = image[4];
        if (cls != 1 && cls != 2) return $"unknown ELF class {cls}";
        if (image[5] != 1) return "big-endian ELF";
        bool is64 = cls == 2;
        if (is64 && image.Length < 64) return "truncated ELF64 header";
        ushort type = U16(image, 16);
        if (type != 2) return $"ELF type {type} is not an executable (ET_EXEC)";
        ushort machine = U16(image, 18);
        ulong entry = is64 ? U64(image, 24) : U32(image, 24);
        ulong phoff = is64 ? U64(image, 32) : U32(image, 28);
        int phentsize = U16(image, is64 ? 54 : 42);
        int phnum = U16(image, is64 ? 56 : 44);
        if (phentsize < (is64 ? 56 : 32) && phnum > 0) return $"program headers of {phentsize} bytes are too short";
        var segments = new List<ElfSegment>();
        var notes = new List<ElfSegment>();
        for (int i = 0; i < phnum; i++)
        {
            ulong at = phoff + (ulong)(i * phentsize);
            if (at < phoff || at > (ulong)image.Length || (ulong)phentsize > (ulong)image.Length - at) return $"program header {i} at offset {at} lies past the end of the file";
            var ph = image.Slice((int)at, phentsize);
            uint kind = U32(ph, 0);
            if (kind != PtLoad && kind != PtNote) continue;
            ElfSegment seg = is64
                ? new(Offset: U64(ph, 8), VirtualAddress: U64(ph, 16), PhysicalAddress: U64(ph, 24), FileSize: U64(ph, 32), MemorySize: U64(ph, 40), Alignment: U64(ph, 48))
                : new(Offset: U32(ph, 4), VirtualAddress: U32(ph, 8), PhysicalAddress: U32(ph, 12), FileSize: U32(ph, 16), MemorySize: U32(ph, 20), Alignment: U32(ph, 28));
            // Checked without overflow: a crafted offset near 2^64 must not wrap around.
            if (seg.Offset > (ulong)image.Length || seg.FileSize > (ulong)image.Length - seg.Offset)
                return $"segment {i} file data ({seg.Offset:x}+{seg.FileSize:x}) lies past the end of the file";
            if (kind == PtNote) { notes.Add(seg); continue; }
            if (seg.FileSize > seg.MemorySize) return $"segment {i} has more file bytes than memory bytes";
            segments.Add(seg);
        }
        if (segments.Count == 0) return "ELF has no loadable (PT_LOAD) segment";
        elf = new ElfImage(is64, machine, entry, segments, notes);
        return null;
    }
    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}

/// <summary>One PT_LOAD or PT_NOTE program header.</summary>
public readonly record struct ElfSegment(ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize, ulong Alignment = 0);
