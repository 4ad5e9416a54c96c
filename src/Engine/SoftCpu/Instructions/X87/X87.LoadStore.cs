using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// FLD, FST, FSTP (m32, m64, m80, ST(i)), FILD, FIST, FISTP, FBLD, FBSTP, the constants, FXCH,
/// FCMOVcc, FFREE and FFREEP; and the aliases a P6 decodes (FSTP1/8/9, FXCH4/7, FSTPNCE).
/// </summary>
internal static unsafe partial class X87
{
    private static void RegisterLoadStore(HandlerTable t)
    {
        t.Add([Code.Fld_m32fp, Code.Fld_m64fp, Code.Fld_m80fp], &FldMemory);
        t.Add(Code.Fld_sti, &FldRegister);
        t.Add([Code.Fst_m32fp, Code.Fst_m64fp, Code.Fstp_m32fp, Code.Fstp_m64fp, Code.Fstp_m80fp], &FstMemory);
        t.Add([Code.Fst_sti, Code.Fstp_sti, Code.Fstp_sti_DFD0, Code.Fstp_sti_DFD8, Code.Fstpnce_sti], &FstRegister);
        t.Add([Code.Fild_m16int, Code.Fild_m32int, Code.Fild_m64int], &Fild);
        t.Add([Code.Fist_m16int, Code.Fist_m32int, Code.Fistp_m16int, Code.Fistp_m32int, Code.Fistp_m64int], &Fist);
        t.Add(Code.Fbld_m80bcd, &Fbld);
        t.Add(Code.Fbstp_m80bcd, &Fbstp);
        t.Add([Code.Fld1, Code.Fldz, Code.Fldpi, Code.Fldl2t, Code.Fldl2e, Code.Fldlg2, Code.Fldln2], &LoadConstant);
        t.Add([Code.Fxch_st0_sti, Code.Fxch_st0_sti_DDC8, Code.Fxch_st0_sti_DFC8], &Fxch);
        t.Add([Code.Fcmovb_st0_sti, Code.Fcmove_st0_sti, Code.Fcmovbe_st0_sti, Code.Fcmovu_st0_sti,
            Code.Fcmovnb_st0_sti, Code.Fcmovne_st0_sti, Code.Fcmovnbe_st0_sti, Code.Fcmovnu_st0_sti], &Fcmov);
        t.Add(Code.Ffree_sti, &Ffree);
        t.Add(Code.Ffreep_sti, &Ffreep);
    }

    /// <summary>FLD m32/m64 widen exactly (a signaling NaN is invalid, a denormal raises #D); FLD m80 loads the bits as they are.</summary>
    private static bool FldMemory(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        ulong la = c.LinearAddress(ref d);
        int size = d.Size0;
        ulong bits = size == 4 ? c.Read32(la) : c.Read64(la);
        ushort signExponent = size == 10 ? c.Read16((la + 8) & c.LinearMask) : (ushort)0;
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        if (PushOverflows(c)) return true;
        var ctx = Context(c);
        var value = size switch
        {
            4 => Float80Arithmetic.FromSingle(ref ctx, (uint)bits),
            8 => Float80Arithmetic.FromDouble(ref ctx, bits),
            _ => new Float80(signExponent, bits),
        };
        // An unmasked denormal exception does not stop the load (the host x87 pushes the normalised value).
        if ((ctx.Raised & ~ctx.Masks & X87Exceptions.Invalid) == 0)
        {
            PushValue(c, value);
            Flags(c, ctx.Raised, roundedUp: false);
        }
        else Flags(c, ctx.Raised, roundedUp: false);
        return true;
    }

    private static bool FldRegister(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        int i = StOperand(ref d, 0);
        var ctx = Context(c);
        var value = ReadSt(c, ref ctx, i);
        // An empty source is a stack underflow (C1 = 0), checked before the overflow.
        if (!Underflowed(ctx) && PushOverflows(c)) return true;
        CompletePush(c, ref ctx, value);
        return true;
    }

    /// <summary>
    /// FST/FSTP to memory: m32 and m64 round under RC to their format (precision control does not
    /// apply), m80 stores the register as it is. An empty ST(0) stores the format's indefinite
    /// when invalid operation is masked.
    /// </summary>
    private static bool FstMemory(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        ulong la = c.LinearAddress(ref d);
        int size = d.Size0;
        c.ProbeWrite(la, size);
        var ctx = Context(c);
        var value = ReadSt(c, ref ctx, 0);
        bool stored = false;
        switch (size)
        {
            case 4:
                uint single = Float80Arithmetic.ToSingle(ref ctx, value);
                if (stored = MayStore(ctx)) c.Write32(la, single);
                break;
            case 8:
                ulong @double = Float80Arithmetic.ToDouble(ref ctx, value);
                if (stored = MayStore(ctx)) c.Write64(la, @double);
                break;
            default:
                if (stored = MayStore(ctx))
                {
                    c.Write64(la, value.Significand);
                    c.Write16((la + 8) & c.LinearMask, value.SignExponent);
                }
                break;
        }
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        CompleteStore(c, ref ctx, stored, pop: d.I.Mnemonic is Mnemonic.Fstp or Mnemonic.Fstpnce);
        return true;
    }

    /// <summary>FST/FSTP ST(i): a copy, no conversion (a signaling NaN stays as it is).</summary>
    private static bool FstRegister(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        var ctx = Context(c);
        var value = ReadSt(c, ref ctx, 0);
        Complete(c, ref ctx, StOperand(ref d, 0), value, pop: d.I.Mnemonic is Mnemonic.Fstp or Mnemonic.Fstpnce);
        return true;
    }

    private static bool Fild(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        int size = d.Size0;
        long value = Processor.SignExtend(c.Read(c.LinearAddress(ref d), size), size);
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        if (PushOverflows(c)) return true;
        var ctx = Context(c);
        CompletePush(c, ref ctx, Float80Arithmetic.FromInteger(value));
        return true;
    }

    /// <summary>FIST/FISTP: rounds under RC; out of range, NaN or infinity store the integer indefinite when masked.</summary>
    private static bool Fist(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        ulong la = c.LinearAddress(ref d);
        int size = d.Size0;
        c.ProbeWrite(la, size);
        var ctx = Context(c);
        long value = Float80Arithmetic.ToInteger(ref ctx, ReadSt(c, ref ctx, 0), size * 8);
        bool stored = MayStore(ctx);
        if (stored) c.Write(la, size, (ulong)value);
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        CompleteStore(c, ref ctx, stored, pop: d.I.Mnemonic == Mnemonic.Fistp);
        return true;
    }

    private static bool Fbld(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        ulong la = c.LinearAddress(ref d);
        Span<byte> bcd = stackalloc byte[10];
        c.ReadBytes(la, bcd);
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        if (PushOverflows(c)) return true;
        var ctx = Context(c);
        CompletePush(c, ref ctx, Float80Arithmetic.FromBcd(bcd));
        return true;
    }

    private static bool Fbstp(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        ulong la = c.LinearAddress(ref d);
        c.ProbeWrite(la, 10);
        var ctx = Context(c);
        Span<byte> bcd = stackalloc byte[10];
        Float80Arithmetic.ToBcd(ref ctx, ReadSt(c, ref ctx, 0), bcd);
        bool stored = MayStore(ctx);
        if (stored) c.WriteBytes(la, bcd);
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        CompleteStore(c, ref ctx, stored, pop: true);
        return true;
    }

    private static bool LoadConstant(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        if (PushOverflows(c)) return true;
        var mode = Context(c).Rounding;
        var value = d.I.Mnemonic switch
        {
            Mnemonic.Fld1 => Float80.One,
            Mnemonic.Fldz => Float80.Zero(false),
            Mnemonic.Fldpi => X87Constants.Pi(mode),
            Mnemonic.Fldl2t => X87Constants.Log2Ten(mode),
            Mnemonic.Fldl2e => X87Constants.Log2E(mode),
            Mnemonic.Fldlg2 => X87Constants.Log10Two(mode),
            _ => X87Constants.LnTwo(mode),
        };
        PushValue(c, value);
        Flags(c, X87Exceptions.None, roundedUp: false);
        return true;
    }

    /// <summary>FXCH: an empty register takes part as the indefinite when invalid operation is masked.</summary>
    private static bool Fxch(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        int i = StOperand(ref d, 1);
        var ctx = Context(c);
        var a = ReadSt(c, ref ctx, 0);
        var b = ReadSt(c, ref ctx, i);
        if (ctx.PreComputationFault)
        {
            Flags(c, ctx.Raised, roundedUp: false);
            return true;
        }
        int p0 = c.StPhysical(0), pi = c.StPhysical(i);
        c.Fpr[p0] = b;
        c.Fpr[pi] = a;
        c.FpuTagValid |= (byte)(1 << p0 | 1 << pi);
        Flags(c, ctx.Raised, roundedUp: false);
        return true;
    }

    /// <summary>FCMOVcc: ST(0) = ST(i) when the EFLAGS condition holds; both registers must be in use either way.</summary>
    private static bool Fcmov(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        var ctx = Context(c);
        var destination = ReadSt(c, ref ctx, 0);
        var source = ReadSt(c, ref ctx, StOperand(ref d, 1));
        var result = Underflowed(ctx) ? Float80.Indefinite : MoveCondition(c, d.I.Mnemonic) ? source : destination;
        Complete(c, ref ctx, 0, result, pop: false);
        return true;
    }

    /// <summary>The EFLAGS condition of an FCMOVcc (B: CF, E: ZF, BE: CF or ZF, U: PF, and their negations).</summary>
    private static bool MoveCondition(Processor c, Mnemonic m) => m switch
    {
        Mnemonic.Fcmovb => c.Cf,
        Mnemonic.Fcmove => c.Zf,
        Mnemonic.Fcmovbe => c.Cf || c.Zf,
        Mnemonic.Fcmovu => c.Pf,
        Mnemonic.Fcmovnb => !c.Cf,
        Mnemonic.Fcmovne => !c.Zf,
        Mnemonic.Fcmovnbe => !(c.Cf || c.Zf),
        _ => !c.Pf,
    };

    private static bool Ffree(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        c.FpuTagValid &= (byte)~(1 << c.StPhysical(StOperand(ref d, 0)));
        return true;
    }

    /// <summary>FFREEP (DF C0+i, undocumented but present since the 287): FFREE ST(i), then pop.</summary>
    private static bool Ffreep(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        c.FpuTagValid &= (byte)~(1 << c.StPhysical(StOperand(ref d, 0)));
        Pop(c);
        return true;
    }
}
