using System.Buffers.Binary;
using VmReplay.Engine.Boot;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// An ELF32 or ELF64 Multiboot kernel built in memory: one PT_LOAD segment that starts with a
/// Multiboot header (page-align and memory-info flags, no a.out kludge) followed by
/// <see cref="Code"/>, linked at <see cref="VirtualAddress"/> and loaded at
/// <see cref="PhysicalAddress"/> as a higher-half kernel is.
/// </summary>
internal sealed record SyntheticMultibootElf
{
    public const int HeaderSize = 12;

    public bool Is64 { get; init; } = true;
    public ushort Machine { get; init; } = ElfImage.MachineX86_64;
    public ulong VirtualAddress { get; init; } = 0xFFFF_FFFF_8010_0000;
    public ulong PhysicalAddress { get; init; } = 0x100000;
    /// <summary>e_entry; by default the first byte of <see cref="Code"/> at its virtual address.</summary>
    public ulong? Entry { get; init; }

    /// <summary>
    /// <c>xor eax, eax; dec eax; out 0x80, eax; hlt</c> in 32-bit code, which writes FFFFFFFF; in
    /// 64-bit code 48 is a REX prefix, not DEC, and the same bytes write 0.
    /// </summary>
    public byte[] Code { get; init; } = [0x31, 0xC0, 0x48, 0xE7, 0x80, 0xF4];

    public byte[] Build()
    {
        int ehSize = Is64 ? 64 : 52, phSize = Is64 ? 56 : 32;
        int segmentAt = 0x1000;
        int segmentSize = HeaderSize + Code.Length;
        var b = new byte[segmentAt + segmentSize];
        var s = b.AsSpan();
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = Is64 ? (byte)2 : (byte)1; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);          // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], Machine);
        ulong entry = Entry ?? VirtualAddress + HeaderSize;
        var ph = s[ehSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);               // PT_LOAD
        if (Is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], entry);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)ehSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[54..], (ushort)phSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)segmentAt);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)segmentSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)segmentSize);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)entry);
            BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)ehSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[42..], (ushort)phSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], (uint)segmentAt);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], (uint)VirtualAddress);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], (uint)PhysicalAddress);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)segmentSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)segmentSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[28..], 0x1000);
        }
        uint flags = MultibootHeader.FlagPageAlign | MultibootHeader.FlagMemoryInfo;
        BinaryPrimitives.WriteUInt32LittleEndian(s[segmentAt..], MultibootHeader.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(segmentAt + 4)..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(segmentAt + 8)..], unchecked(0u - MultibootHeader.Magic - flags));
        Code.CopyTo(s[(segmentAt + HeaderSize)..]);
        return b;
    }
}
