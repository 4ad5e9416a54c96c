using System.Buffers.Binary;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// The x87 environment image of FSTENV/FLDENV and the head of FSAVE/FRSTOR (SDM vol. 1, 8.1.10,
/// figures 8-9 to 8-12): 14 bytes with a 16-bit operand size, 28 with a 32-bit one; in real and
/// virtual-8086 mode the instruction and data pointers are 20/32-bit linear addresses with the
/// opcode beside them, in protected mode offsets with their selectors. The tag word is the full
/// one, worked out from the registers; loading it only tells which registers are empty. The
/// reserved upper halves of the 32-bit layout are stored as ones.
/// </summary>
internal static class X87Environment
{
    /// <summary>Writes the environment at the start of <paramref name="image"/>; returns its length.</summary>
    public static int Write(Processor c, Span<byte> image, bool wide, bool realLayout)
    {
        ushort fop = c.Fop;
        uint ipOffset = (uint)c.Fip, dpOffset = (uint)c.Fdp;
        ushort ipSelector = (ushort)(c.Fip >> 32), dpSelector = (ushort)(c.Fdp >> 32);
        // The real-mode layout has linear addresses (selector·16 + offset).
        uint ipLinear = (uint)(ipSelector << 4) + ipOffset, dpLinear = (uint)(dpSelector << 4) + dpOffset;
        if (!wide)
        {
            Put16(image, 0, c.Fcw);
            Put16(image, 2, c.Fsw);
            Put16(image, 4, c.FullTagWord());
            if (realLayout)
            {
                Put16(image, 6, (ushort)ipLinear);
                Put16(image, 8, (ushort)((ipLinear >> 16 & 0xF) << 12 | fop));
                Put16(image, 10, (ushort)dpLinear);
                Put16(image, 12, (ushort)((dpLinear >> 16 & 0xF) << 12));
            }
            else
            {
                Put16(image, 6, (ushort)ipOffset);
                Put16(image, 8, ipSelector);
                Put16(image, 10, (ushort)dpOffset);
                Put16(image, 12, dpSelector);
            }
            return 14;
        }
        Put32(image, 0, 0xFFFF_0000u | c.Fcw);
        Put32(image, 4, 0xFFFF_0000u | c.Fsw);
        Put32(image, 8, 0xFFFF_0000u | c.FullTagWord());
        if (realLayout)
        {
            Put32(image, 12, 0xFFFF_0000u | (ipLinear & 0xFFFF));
            Put32(image, 16, (ipLinear >> 16) << 12 | fop);
            Put32(image, 20, 0xFFFF_0000u | (dpLinear & 0xFFFF));
            Put32(image, 24, (dpLinear >> 16) << 12);
        }
        else
        {
            Put32(image, 12, ipOffset);
            Put32(image, 16, (uint)fop << 16 | ipSelector);
            Put32(image, 20, dpOffset);
            Put32(image, 24, 0xFFFF_0000u | dpSelector);
        }
        return 28;
    }

    /// <summary>Loads the environment from the start of <paramref name="image"/> (control word first, so ES is worked out against the new masks).</summary>
    public static void Read(Processor c, ReadOnlySpan<byte> image, bool wide, bool realLayout)
    {
        int step = wide ? 4 : 2;
        c.Fcw = (ushort)((Get16(image, 0) & 0x1F3F) | 0x40);
        c.SetFsw(Get16(image, step));
        c.SetFullTagWord(Get16(image, 2 * step));
        if (!wide)
        {
            if (realLayout)
            {
                ushort high = Get16(image, 8);
                c.Fip = Get16(image, 6) | (ulong)(high >> 12) << 16;
                c.Fop = (ushort)(high & 0x7FF);
                c.Fdp = Get16(image, 10) | (ulong)(Get16(image, 12) >> 12) << 16;
            }
            else
            {
                c.Fip = Get16(image, 6) | (ulong)Get16(image, 8) << 32;
                c.Fdp = Get16(image, 10) | (ulong)Get16(image, 12) << 32;
            }
            return;
        }
        if (realLayout)
        {
            uint high = Get32(image, 16);
            c.Fip = Get16(image, 12) | (ulong)(high >> 12 & 0xFFFF) << 16;
            c.Fop = (ushort)(high & 0x7FF);
            c.Fdp = Get16(image, 20) | (ulong)(Get32(image, 24) >> 12 & 0xFFFF) << 16;
        }
        else
        {
            uint selectorAndOpcode = Get32(image, 16);
            c.Fip = Get32(image, 12) | (ulong)(selectorAndOpcode & 0xFFFF) << 32;
            c.Fop = (ushort)(selectorAndOpcode >> 16 & 0x7FF);
            c.Fdp = Get32(image, 20) | (ulong)Get16(image, 24) << 32;
        }
    }

    private static void Put16(Span<byte> b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b[at..], v);
    private static void Put32(Span<byte> b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b[at..], v);
    private static ushort Get16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint Get32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
