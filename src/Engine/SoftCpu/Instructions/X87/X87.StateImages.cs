using System.Buffers.Binary;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// FXSAVE/FXRSTOR and their REX.W forms (SDM vol. 2, FXSAVE, tables 3-53 to 3-56): the 512-byte
/// image of the x87 state (abridged tag word, registers in stack order in 16-byte slots), MXCSR
/// and MXCSR_MASK, and XMM0-7 (XMM0-15 in 64-bit mode). With REX.W the instruction and data
/// pointers are 64-bit offsets, else 32-bit offsets with selectors. Bytes 416-511 (288-511
/// outside 64-bit mode) are neither written nor read. With CR4.OSFXSR clear the XMM registers
/// are left out, their bytes too (the SDM leaves it to the implementation; MXCSR is kept).
/// </summary>
internal static unsafe partial class X87
{
    /// <summary>MXCSR_MASK: every bit below 16 is writable (DAZ included), as the SSE unit's MXCSR has it.</summary>
    private const uint MxcsrMask = 0xFFFF;

    private static void RegisterStateImages(HandlerTable t)
    {
        t.Add([Code.Fxsave_m512byte, Code.Fxsave64_m512byte], &Fxsave);
        t.Add([Code.Fxrstor_m512byte, Code.Fxrstor64_m512byte], &Fxrstor);
    }

    /// <summary>The checks of FXSAVE/FXRSTOR: #NM with CR0.EM or TS (no pending-exception check), #GP(0) unless 16-byte aligned.</summary>
    private static ulong StateImageAddress(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: false);
        ulong la = c.LinearAddress(ref d);
        if ((la & 15) != 0) throw Processor.Gp();
        return la;
    }

    private static int XmmCount(Processor c) => (c.Cr4 & Processor.Cr4Osfxsr) == 0 ? 0 : c.Long64 ? 16 : 8;

    private static bool Fxsave(Processor c, ref DecodedInstruction d)
    {
        ulong la = StateImageAddress(c, ref d);
        Span<byte> image = stackalloc byte[416];
        image.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(image, c.Fcw);
        BinaryPrimitives.WriteUInt16LittleEndian(image[2..], c.Fsw);
        image[4] = c.FpuTagValid;
        BinaryPrimitives.WriteUInt16LittleEndian(image[6..], c.Fop);
        if (d.I.Code == Code.Fxsave64_m512byte)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(image[8..], c.Fip);
            BinaryPrimitives.WriteUInt64LittleEndian(image[16..], c.Fdp);
        }
        else
        {
            // Offsets and selectors: the layout the pointers are kept in outside 64-bit mode.
            BinaryPrimitives.WriteUInt64LittleEndian(image[8..], c.Fip & 0xFFFF_FFFF_FFFF);
            BinaryPrimitives.WriteUInt64LittleEndian(image[16..], c.Fdp & 0xFFFF_FFFF_FFFF);
        }
        for (int i = 0; i < 8; i++) c.St(i).WriteBytes(image.Slice(32 + 16 * i, 10));
        int xmm = XmmCount(c);
        uint mxcsr = c.ReadSseState(image.Slice(160, 256), xmm);
        BinaryPrimitives.WriteUInt32LittleEndian(image[24..], mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(image[28..], MxcsrMask);
        c.WriteBytes(la, image[..(160 + 16 * xmm)]);
        return true;
    }

    private static bool Fxrstor(Processor c, ref DecodedInstruction d)
    {
        ulong la = StateImageAddress(c, ref d);
        Span<byte> image = stackalloc byte[416];
        int xmm = XmmCount(c);
        c.ReadBytes(la, image[..(160 + 16 * xmm)]);
        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(image[24..]);
        if ((mxcsr & ~MxcsrMask) != 0) throw Processor.Gp();
        c.Fcw = (ushort)((BinaryPrimitives.ReadUInt16LittleEndian(image) & FcwWritable) | FcwAlwaysSet);
        c.SetFsw(BinaryPrimitives.ReadUInt16LittleEndian(image[2..]));
        c.FpuTagValid = image[4];
        c.Fop = BinaryPrimitives.ReadUInt16LittleEndian(image[6..]);
        ulong ip = BinaryPrimitives.ReadUInt64LittleEndian(image[8..]), dp = BinaryPrimitives.ReadUInt64LittleEndian(image[16..]);
        bool wide = d.I.Code == Code.Fxrstor64_m512byte;
        c.Fip = wide ? ip : ip & 0xFFFF_FFFF_FFFF;
        c.Fdp = wide ? dp : dp & 0xFFFF_FFFF_FFFF;
        for (int i = 0; i < 8; i++) c.St(i) = Float80.FromBytes(image.Slice(32 + 16 * i, 10));
        c.WriteSseState(image.Slice(160, 256), xmm, mxcsr);
        return true;
    }
}
