using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// MUL, IMUL (one, two and three operands), DIV and IDIV in every size (SDM vol. 2). MUL and
/// IMUL set CF = OF = "the product did not fit"; the flags the SDM leaves undefined get SF, ZF
/// and PF of the low half and AF clear. DIV and IDIV raise #DE for a zero divisor or a quotient
/// that does not fit, before changing anything, and leave the (undefined) flags as they were.
/// </summary>
internal static unsafe class MultiplyDivide
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            switch (code.Mnemonic())
            {
                case Mnemonic.Mul: t.Add(code, &Mul); break;
                // By form, not by Iced's opcode table (OpCount): its first use builds the table
                // for every form, 19 ms of a command's start.
                case Mnemonic.Imul when code is Code.Imul_rm8 or Code.Imul_rm16 or Code.Imul_rm32 or Code.Imul_rm64: t.Add(code, &ImulWide); break;
                case Mnemonic.Imul when code is Code.Imul_r16_rm16 or Code.Imul_r32_rm32 or Code.Imul_r64_rm64: t.Add(code, &ImulTwo); break;
                case Mnemonic.Imul: t.Add(code, &ImulThree); break;
                case Mnemonic.Div: t.Add(code, &Div); break;
                case Mnemonic.Idiv: t.Add(code, &Idiv); break;
            }
        }
    }

    private static void SetMultiplyFlags(Processor c, ulong low, int bits, bool overflow)
    {
        ulong f = ShiftRotate.ResultFlags(low & Processor.SizeMask(bits / 8), bits);
        if (overflow) f |= Processor.FlagCf | Processor.FlagOf;
        c.SetArithFlags(f);
    }

    /// <summary>MUL: AX = AL·src, DX:AX = AX·src, EDX:EAX, RDX:RAX, unsigned.</summary>
    private static bool Mul(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong src = c.ReadOperand(ref d, 0, size);
        ulong a = c.ReadReg(Processor.Rax, size);
        ulong low, high;
        switch (size)
        {
            case 1:
                ulong p8 = a * src;
                c.WriteReg(Processor.Rax, 2, p8);
                low = p8 & 0xFF;
                high = p8 >> 8;
                break;
            case 2:
            case 4:
                ulong p = a * src;
                low = p & Processor.SizeMask(size);
                high = p >> (size * 8);
                c.WriteReg(Processor.Rax, size, low);
                c.WriteReg(Processor.Rdx, size, high);
                break;
            default:
                high = Math.BigMul(a, src, out low);
                c.R(Processor.Rax) = low;
                c.R(Processor.Rdx) = high;
                break;
        }
        SetMultiplyFlags(c, low, size * 8, high != 0);
        return true;
    }

    /// <summary>One-operand IMUL: the signed double-width product in AX, DX:AX, EDX:EAX or RDX:RAX.</summary>
    private static bool ImulWide(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        long src = Processor.SignExtend(c.ReadOperand(ref d, 0, size), size);
        long a = Processor.SignExtend(c.ReadReg(Processor.Rax, size), size);
        ulong low;
        bool overflow;
        switch (size)
        {
            case 1:
                long p8 = a * src;
                c.WriteReg(Processor.Rax, 2, (ulong)p8);
                low = (ulong)p8 & 0xFF;
                overflow = p8 != (sbyte)p8;
                break;
            case 2:
            case 4:
                long p = a * src;
                low = (ulong)p & Processor.SizeMask(size);
                c.WriteReg(Processor.Rax, size, low);
                c.WriteReg(Processor.Rdx, size, (ulong)(p >> (size * 8)));
                overflow = p != Processor.SignExtend((ulong)p, size);
                break;
            default:
                long high = Math.BigMul(a, src, out long lowSigned);
                low = (ulong)lowSigned;
                c.R(Processor.Rax) = low;
                c.R(Processor.Rdx) = (ulong)high;
                overflow = high != lowSigned >> 63;
                break;
        }
        SetMultiplyFlags(c, low, size * 8, overflow);
        return true;
    }

    // dest = truncate(a · b), CF = OF = the signed product did not fit.
    private static void ImulInto(Processor c, int reg, int size, long a, long b)
    {
        ulong low;
        bool overflow;
        if (size == 8)
        {
            long high = Math.BigMul(a, b, out long lowSigned);
            low = (ulong)lowSigned;
            overflow = high != lowSigned >> 63;
        }
        else
        {
            long p = a * b;
            low = (ulong)p & Processor.SizeMask(size);
            overflow = p != Processor.SignExtend((ulong)p, size);
        }
        c.WriteReg(reg, size, low);
        SetMultiplyFlags(c, low, size * 8, overflow);
    }

    private static bool ImulTwo(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        long b = Processor.SignExtend(c.ReadOperand(ref d, 1, size), size);
        long a = Processor.SignExtend(c.ReadReg(d.Reg0, size), size);
        ImulInto(c, d.Reg0, size, a, b);
        return true;
    }

    private static bool ImulThree(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        long a = Processor.SignExtend(c.ReadOperand(ref d, 1, size), size);
        long b = Processor.SignExtend(d.Immediate, size);
        ImulInto(c, d.Reg0, size, a, b);
        return true;
    }

    private static GuestException DivideError() => new(GuestException.DivideError, null);

    /// <summary>DIV: AX / r/m8 into AL (quotient) and AH (remainder); DX:AX, EDX:EAX, RDX:RAX likewise.</summary>
    private static bool Div(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong divisor = c.ReadOperand(ref d, 0, size);
        if (divisor == 0) throw DivideError();
        if (size == 8)
        {
            ulong high = c.R(Processor.Rdx);
            if (high >= divisor) throw DivideError();
            var dividend = new UInt128(high, c.R(Processor.Rax));
            ulong q = (ulong)(dividend / divisor);
            c.R(Processor.Rax) = q;
            c.R(Processor.Rdx) = (ulong)(dividend - (UInt128)q * divisor);
            return true;
        }
        int bits = size * 8;
        ulong dividend64 = size == 1
            ? c.ReadReg(Processor.Rax, 2)
            : (c.ReadReg(Processor.Rdx, size) << bits) | c.ReadReg(Processor.Rax, size);
        ulong quotient = dividend64 / divisor;
        if (quotient > Processor.SizeMask(size)) throw DivideError();
        ulong remainder = dividend64 % divisor;
        if (size == 1)
            c.WriteReg(Processor.Rax, 2, (remainder << 8) | quotient);
        else
        {
            c.WriteReg(Processor.Rax, size, quotient);
            c.WriteReg(Processor.Rdx, size, remainder);
        }
        return true;
    }

    /// <summary>IDIV: signed, the quotient truncated toward zero, the remainder with the dividend's sign.</summary>
    private static bool Idiv(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        long divisor = Processor.SignExtend(c.ReadOperand(ref d, 0, size), size);
        if (divisor == 0) throw DivideError();
        if (size == 8)
        {
            var dividend = (Int128)new UInt128(c.R(Processor.Rdx), c.R(Processor.Rax));
            // -dividend wraps for the most negative dividend, which then fails the range check.
            Int128 q = divisor == -1 ? -dividend : dividend / divisor;
            if (q < long.MinValue || q > long.MaxValue) throw DivideError();
            c.R(Processor.Rax) = (ulong)(long)q;
            c.R(Processor.Rdx) = (ulong)(long)(dividend - q * divisor);
            return true;
        }
        int bits = size * 8;
        long dividend64 = size == 1
            ? (short)c.ReadReg(Processor.Rax, 2)
            : (long)((c.ReadReg(Processor.Rdx, size) << bits) | c.ReadReg(Processor.Rax, size)) << (64 - 2 * bits) >> (64 - 2 * bits);
        // The one division .NET itself refuses; its quotient does not fit a 32-bit register either.
        if (dividend64 == long.MinValue && divisor == -1) throw DivideError();
        long quotient = dividend64 / divisor;
        if (quotient != Processor.SignExtend((ulong)quotient, size)) throw DivideError();
        long remainder = dividend64 % divisor;
        if (size == 1)
            c.WriteReg(Processor.Rax, 2, ((ulong)remainder & 0xFF) << 8 | ((ulong)quotient & 0xFF));
        else
        {
            c.WriteReg(Processor.Rax, size, (ulong)quotient);
            c.WriteReg(Processor.Rdx, size, (ulong)remainder);
        }
        return true;
    }
}
