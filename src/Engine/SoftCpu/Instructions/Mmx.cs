using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The MMX forms (SDM vol. 1, chapter 9; vol. 2): MOVD/MOVQ with MMX registers, EMMS, and the
/// MMX-register forms of the packed integer instructions, shuffles and shifts (shared with
/// their XMM forms), plus the SSE additions on MMX registers: PMOVMSKB, MASKMOVQ, MOVNTQ.
/// MMX registers are the x87 registers' significands; every MMX instruction but EMMS leaves the
/// x87 unit with TOP = 0 and all registers valid, EMMS with all of them empty.
/// </summary>
internal static unsafe class Mmx
{
    public static void Register(HandlerTable t)
    {
        PackedInteger.Register(t, mmxForms: true);
        PackedShift.Register(t, mmxForms: true);
        SseShuffles.Register(t, mmxForms: true);
        t.Add([Code.Movd_mm_rm32, Code.Movq_mm_rm64], &MovdToMm);
        t.Add([Code.Movd_rm32_mm, Code.Movq_rm64_mm], &MovdFromMm);
        t.Add(Code.Movq_mm_mmm64, &MovqLoad);
        t.Add([Code.Movq_mmm64_mm, Code.Movntq_m64_mm], &MovqStore);
        t.Add([Code.Pmovmskb_r32_mm, Code.Pmovmskb_r64_mm], &Pmovmskb);
        t.Add(Code.Maskmovq_rDI_mm_mm, &Maskmovq);
        t.Add(Code.Emms, &Emms);
    }

    private static bool MovdToMm(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        int size = d.I.Code == Code.Movq_mm_rm64 ? 8 : 4;
        c.WriteMmx(Mm0(ref d), c.ReadOperand(ref d, 1, size));
        return true;
    }

    private static bool MovdFromMm(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        int size = d.I.Code == Code.Movq_rm64_mm ? 8 : 4;
        c.WriteOperand0(ref d, size, c.ReadMmx(Mm1(ref d)));
        c.EnterMmx();
        return true;
    }

    private static bool MovqLoad(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        c.WriteMmx(Mm0(ref d), Mm64(c, ref d));
        return true;
    }

    private static bool MovqStore(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        ulong v = c.ReadMmx(Mm1(ref d));
        if (d.Kind0 == OperandKind.Memory)
        {
            c.Write64(c.LinearAddress(ref d), v);
            c.EnterMmx();
        }
        else c.WriteMmx(Mm0(ref d), v);
        return true;
    }

    private static bool Pmovmskb(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        c.WriteReg(d.Reg0, d.Size0, Vector128.CreateScalar(c.ReadMmx(Mm1(ref d))).AsByte().ExtractMostSignificantBits() & 0xFF);
        c.EnterMmx();
        return true;
    }

    private static bool Maskmovq(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        Span<byte> data = stackalloc byte[8], mask = stackalloc byte[8];
        BitConverter.TryWriteBytes(data, c.ReadMmx(Mm1(ref d)));
        BitConverter.TryWriteBytes(mask, c.ReadMmx(d.I.Op2Register - Iced.Intel.Register.MM0));
        SseDataMovement.MaskedStore(c, SseDataMovement.MaskedStoreAddress(c, ref d), data, mask);
        c.EnterMmx();
        return true;
    }

    private static bool Emms(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        c.Emms();
        return true;
    }
}
