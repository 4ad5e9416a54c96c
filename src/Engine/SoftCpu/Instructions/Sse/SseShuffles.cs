using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// Shuffles by an immediate: SHUFPS, SHUFPD, PSHUFD, PSHUFHW, PSHUFLW and the MMX PSHUFW; and
/// PEXTRW/PINSRW in XMM and MMX forms (the word index is the immediate modulo the word count).
/// </summary>
internal static unsafe class SseShuffles
{
    /// <summary>Registers the XMM forms, or with <paramref name="mmxForms"/> the MMX ones.</summary>
    public static void Register(HandlerTable t, bool mmxForms)
    {
        if (mmxForms)
        {
            t.Add(Code.Pshufw_mm_mmm64_imm8, &Pshufw);
            t.Add([Code.Pextrw_r32_mm_imm8, Code.Pextrw_r64_mm_imm8], &PextrwMmx);
            t.Add([Code.Pinsrw_mm_r32m16_imm8, Code.Pinsrw_mm_r64m16_imm8], &PinsrwMmx);
            return;
        }
        t.Add(Code.Shufps_xmm_xmmm128_imm8, &Shufps);
        t.Add(Code.Shufpd_xmm_xmmm128_imm8, &Shufpd);
        t.Add(Code.Pshufd_xmm_xmmm128_imm8, &Pshufd);
        t.Add(Code.Pshufhw_xmm_xmmm128_imm8, &Pshufhw);
        t.Add(Code.Pshuflw_xmm_xmmm128_imm8, &Pshuflw);
        t.Add([Code.Pextrw_r32_xmm_imm8, Code.Pextrw_r64_xmm_imm8], &PextrwXmm);
        t.Add([Code.Pinsrw_xmm_r32m16_imm8, Code.Pinsrw_xmm_r64m16_imm8], &PinsrwXmm);
    }

    private static bool Shufps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int imm = Imm8(ref d);
        var b = Xmm128(c, ref d).AsUInt32();
        ref var dst = ref c.XmmRegister(Xmm0(ref d));
        var a = dst.AsUInt32();
        dst = Vector128.Create(a.GetElement(imm & 3), a.GetElement((imm >> 2) & 3), b.GetElement((imm >> 4) & 3), b.GetElement(imm >> 6)).AsByte();
        return true;
    }

    private static bool Shufpd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int imm = Imm8(ref d);
        var b = Xmm128(c, ref d).AsUInt64();
        ref var dst = ref c.XmmRegister(Xmm0(ref d));
        dst = Vector128.Create(dst.AsUInt64().GetElement(imm & 1), b.GetElement((imm >> 1) & 1)).AsByte();
        return true;
    }

    /// <summary>Four 2-bit element indices from an immediate.</summary>
    private static Vector128<uint> Selectors(int imm) => Vector128.Create((uint)(imm & 3), (uint)((imm >> 2) & 3), (uint)((imm >> 4) & 3), (uint)(imm >> 6));

    private static bool Pshufd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        var src = Xmm128(c, ref d).AsUInt32();
        c.XmmRegister(Xmm0(ref d)) = Vector128.Shuffle(src, Selectors(Imm8(ref d))).AsByte();
        return true;
    }

    // The words of one half, shuffled: word i takes word (imm >> 2i) & 3 of the same half.
    private static ulong ShuffleWords(ulong half, int imm)
    {
        ulong r = 0;
        for (int i = 0; i < 4; i++) r |= ((half >> (16 * ((imm >> (2 * i)) & 3))) & 0xFFFF) << (16 * i);
        return r;
    }

    private static bool Pshufhw(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        var src = Xmm128(c, ref d).AsUInt64();
        c.XmmRegister(Xmm0(ref d)) = Vector128.Create(src.GetElement(0), ShuffleWords(src.GetElement(1), Imm8(ref d))).AsByte();
        return true;
    }

    private static bool Pshuflw(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        var src = Xmm128(c, ref d).AsUInt64();
        c.XmmRegister(Xmm0(ref d)) = Vector128.Create(ShuffleWords(src.GetElement(0), Imm8(ref d)), src.GetElement(1)).AsByte();
        return true;
    }

    private static bool Pshufw(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        ulong src = Mm64(c, ref d);
        c.WriteMmx(Mm0(ref d), ShuffleWords(src, Imm8(ref d)));
        return true;
    }

    private static bool PextrwXmm(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int word = Imm8(ref d) & 7;
        c.WriteReg(d.Reg0, d.Size0, (c.XmmQword(Xmm1(ref d), word >> 2) >> (16 * (word & 3))) & 0xFFFF);
        return true;
    }

    private static bool PextrwMmx(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        c.WriteReg(d.Reg0, d.Size0, (c.ReadMmx(Mm1(ref d)) >> (16 * (Imm8(ref d) & 3))) & 0xFFFF);
        c.EnterMmx();
        return true;
    }

    private static ulong InsertWord(ulong v, int index, ulong word) => (v & ~(0xFFFFUL << (16 * index))) | (word << (16 * index));

    private static bool PinsrwXmm(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int word = Imm8(ref d) & 7;
        ulong value = c.ReadOperand(ref d, 1, 2);
        ref ulong q = ref c.XmmQword(Xmm0(ref d), word >> 2);
        q = InsertWord(q, word & 3, value);
        return true;
    }

    private static bool PinsrwMmx(Processor c, ref DecodedInstruction d)
    {
        c.CheckMmx();
        ulong value = c.ReadOperand(ref d, 1, 2);
        int dst = Mm0(ref d);
        c.WriteMmx(dst, InsertWord(c.ReadMmx(dst), Imm8(ref d) & 3, value));
        return true;
    }
}
