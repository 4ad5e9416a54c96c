using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT in every operand size and
/// form (SDM vol. 2). Flags are left lazy (<see cref="FlagOp"/>). LOCK changes nothing on one
/// processor that executes one instruction at a time.
/// </summary>
internal static unsafe class Arithmetic
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            switch (code.Mnemonic())
            {
                case Mnemonic.Add: t.Add(code, &Binary<AddOp>); break;
                case Mnemonic.Or: t.Add(code, &Binary<OrOp>); break;
                case Mnemonic.Adc: t.Add(code, &Binary<AdcOp>); break;
                case Mnemonic.Sbb: t.Add(code, &Binary<SbbOp>); break;
                case Mnemonic.And: t.Add(code, &Binary<AndOp>); break;
                case Mnemonic.Sub: t.Add(code, &Binary<SubOp>); break;
                case Mnemonic.Xor: t.Add(code, &Binary<XorOp>); break;
                case Mnemonic.Cmp: t.Add(code, &Compare<SubOp>); break;
                case Mnemonic.Test: t.Add(code, &Compare<AndOp>); break;
                case Mnemonic.Inc: t.Add(code, &IncDec<Inc>); break;
                case Mnemonic.Dec: t.Add(code, &IncDec<Dec>); break;
                case Mnemonic.Neg: t.Add(code, &Neg); break;
                case Mnemonic.Not: t.Add(code, &Not); break;
            }
        }
    }

    /// <summary>A two-operand ALU operation: computes the result and records its flags.</summary>
    private interface IAluOp
    {
        static abstract ulong Apply(Processor c, ulong a, ulong b, int bits);
    }

    private struct AddOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            ulong r = a + b;
            c.SetLazy(FlagOp.Add, a, b, r, bits);
            return r;
        }
    }

    private struct AdcOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            bool carry = c.Cf;
            ulong r = a + b + (carry ? 1UL : 0);
            c.SetLazyWithCarry(FlagOp.Adc, a, b, r, bits, carry);
            return r;
        }
    }

    private struct SubOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            ulong r = a - b;
            c.SetLazy(FlagOp.Sub, a, b, r, bits);
            return r;
        }
    }

    private struct SbbOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            bool carry = c.Cf;
            ulong r = a - b - (carry ? 1UL : 0);
            c.SetLazyWithCarry(FlagOp.Sbb, a, b, r, bits, carry);
            return r;
        }
    }

    private struct AndOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            ulong r = a & b;
            c.SetLazy(FlagOp.Logic, a, b, r, bits);
            return r;
        }
    }

    private struct OrOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            ulong r = a | b;
            c.SetLazy(FlagOp.Logic, a, b, r, bits);
            return r;
        }
    }

    private struct XorOp : IAluOp
    {
        public static ulong Apply(Processor c, ulong a, ulong b, int bits)
        {
            ulong r = a ^ b;
            c.SetLazy(FlagOp.Logic, a, b, r, bits);
            return r;
        }
    }

    private static bool Binary<T>(Processor c, ref DecodedInstruction d) where T : struct, IAluOp
    {
        int size = d.Size0;
        if (d.Kind0 == OperandKind.Register)
        {
            ulong a = c.ReadReg(d.Reg0, size);
            ulong b = d.Kind1 == OperandKind.Register ? c.ReadReg(d.Reg1, size) : c.ReadOperand(ref d, 1, size);
            c.WriteReg(d.Reg0, size, T.Apply(c, a, b, size * 8));
            return true;
        }
        ulong la = c.LinearAddress(ref d);
        ulong b2 = c.ReadOperand(ref d, 1, size);
        // Checked for writing before anything changes, so the write cannot fault after the flags did.
        ulong a2 = c.ReadForWrite(la, size);
        c.Write(la, size, T.Apply(c, a2, b2, size * 8));
        return true;
    }

    private static bool Compare<T>(Processor c, ref DecodedInstruction d) where T : struct, IAluOp
    {
        int size = d.Size0;
        ulong a = c.ReadOperand(ref d, 0, size);
        ulong b = c.ReadOperand(ref d, 1, size);
        T.Apply(c, a, b, size * 8);
        return true;
    }

    private interface IStep { static abstract bool Increment { get; } }
    private struct Inc : IStep { public static bool Increment => true; }
    private struct Dec : IStep { public static bool Increment => false; }

    private static bool IncDec<T>(Processor c, ref DecodedInstruction d) where T : struct, IStep
    {
        int size = d.Size0;
        if (d.Kind0 == OperandKind.Register)
        {
            ulong a = c.ReadReg(d.Reg0, size);
            ulong r = T.Increment ? a + 1 : a - 1;
            c.WriteReg(d.Reg0, size, r);
            c.SetLazyIncDec(T.Increment, a, r, size * 8);
            return true;
        }
        ulong la = c.LinearAddress(ref d);
        ulong v = c.ReadForWrite(la, size);
        ulong res = T.Increment ? v + 1 : v - 1;
        c.Write(la, size, res);
        c.SetLazyIncDec(T.Increment, v, res, size * 8);
        return true;
    }

    private static bool Neg(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong a = d.Kind0 == OperandKind.Register ? c.ReadReg(d.Reg0, size) : c.ReadForWrite(c.LinearAddress(ref d), size);
        ulong r = 0 - a;
        c.WriteOperand0(ref d, size, r);
        c.SetLazy(FlagOp.Sub, 0, a, r, size * 8);
        return true;
    }

    private static bool Not(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong a = d.Kind0 == OperandKind.Register ? c.ReadReg(d.Reg0, size) : c.ReadForWrite(c.LinearAddress(ref d), size);
        c.WriteOperand0(ref d, size, ~a);
        return true;
    }
}
