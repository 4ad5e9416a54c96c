using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The BCD adjustments DAA, DAS, AAA, AAS, AAM and AAD, as the SDM's pseudo-code has them (vol. 2A),
/// and XLAT. The adjustments do not exist in 64-bit mode: Iced decodes them there as invalid, so
/// they raise #UD without reaching these handlers. Where the SDM leaves flags undefined, SF, ZF
/// and PF follow AL and OF (and AAM/AAD's CF and AF) are clear.
/// </summary>
internal static unsafe class DecimalArithmetic
{
    public static void Register(HandlerTable t)
    {
        t.Add(Code.Daa, &Daa);
        t.Add(Code.Das, &Das);
        t.Add(Code.Aaa, &Aaa);
        t.Add(Code.Aas, &Aas);
        t.Add(Code.Aam_imm8, &Aam);
        t.Add(Code.Aad_imm8, &Aad);
        t.Add(Code.Xlat_m8, &Xlat);
    }

    private const ulong Cf = Processor.FlagCf, Af = Processor.FlagAf;

    private static ulong AlFlags(ulong al) => ShiftRotate.ResultFlags(al & 0xFF, 8);

    private static bool Daa(Processor c, ref DecodedInstruction d)
    {
        ulong al = c.ReadReg(Processor.Rax, 1), oldAl = al;
        bool oldCf = c.Cf;
        ulong f = 0;
        if ((al & 0xF) > 9 || c.Af)
        {
            al += 6;
            if (oldCf || al > 0xFF) f |= Cf;
            f |= Af;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al += 0x60;
            f |= Cf;
        }
        else f &= ~Cf;
        c.WriteReg(Processor.Rax, 1, al);
        c.SetArithFlags(f | AlFlags(al));
        return true;
    }

    private static bool Das(Processor c, ref DecodedInstruction d)
    {
        ulong al = c.ReadReg(Processor.Rax, 1), oldAl = al;
        bool oldCf = c.Cf;
        ulong f = 0;
        if ((al & 0xF) > 9 || c.Af)
        {
            // The SDM keeps CF from this step when the second does not apply (old CF, or a borrow out of AL).
            if (oldCf || al < 6) f |= Cf;
            al -= 6;
            f |= Af;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al -= 0x60;
            f |= Cf;
        }
        c.WriteReg(Processor.Rax, 1, al);
        c.SetArithFlags(f | AlFlags(al));
        return true;
    }

    private static bool Aaa(Processor c, ref DecodedInstruction d)
    {
        ulong ax = c.ReadReg(Processor.Rax, 2);
        ulong f = 0;
        if ((ax & 0xF) > 9 || c.Af)
        {
            ax += 0x106;
            f = Af | Cf;
        }
        ax &= 0xFF0F;
        c.WriteReg(Processor.Rax, 2, ax);
        c.SetArithFlags(f | AlFlags(ax));
        return true;
    }

    private static bool Aas(Processor c, ref DecodedInstruction d)
    {
        ulong ax = c.ReadReg(Processor.Rax, 2);
        ulong f = 0;
        if ((ax & 0xF) > 9 || c.Af)
        {
            ax -= 6;
            ax -= 0x100;
            f = Af | Cf;
        }
        ax &= 0xFF0F;
        c.WriteReg(Processor.Rax, 2, ax);
        c.SetArithFlags(f | AlFlags(ax));
        return true;
    }

    /// <summary>AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE for 0.</summary>
    private static bool Aam(Processor c, ref DecodedInstruction d)
    {
        ulong divisor = d.Immediate & 0xFF;
        if (divisor == 0) throw new GuestException(GuestException.DivideError, null);
        ulong al = c.ReadReg(Processor.Rax, 1);
        ulong result = ((al / divisor) << 8) | (al % divisor);
        c.WriteReg(Processor.Rax, 2, result);
        c.SetArithFlags(AlFlags(result));
        return true;
    }

    /// <summary>AAD imm8: AL = AL + AH · imm8 (8 bits), AH = 0.</summary>
    private static bool Aad(Processor c, ref DecodedInstruction d)
    {
        ulong ax = c.ReadReg(Processor.Rax, 2);
        ulong al = ((ax & 0xFF) + (ax >> 8) * (d.Immediate & 0xFF)) & 0xFF;
        c.WriteReg(Processor.Rax, 2, al);
        c.SetArithFlags(AlFlags(al));
        return true;
    }

    /// <summary>XLAT: AL = [seg:rBX + AL], rBX of the address size, DS unless overridden.</summary>
    private static bool Xlat(Processor c, ref DecodedInstruction d)
    {
        ulong mask = d.I.MemoryBase switch
        {
            Iced.Intel.Register.BX => 0xFFFF,
            Iced.Intel.Register.EBX => 0xFFFF_FFFF,
            _ => ulong.MaxValue,
        };
        int segment = d.I.SegmentPrefix == Iced.Intel.Register.None ? Processor.Ds : d.I.SegmentPrefix - Iced.Intel.Register.ES;
        ulong offset = (c.R(Processor.Rbx) + c.ReadReg(Processor.Rax, 1)) & mask;
        c.WriteReg(Processor.Rax, 1, c.Read(c.Linear(segment, offset), 1));
        return true;
    }
}
