using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// FCOM, FCOMP, FCOMPP, FUCOM, FUCOMP, FUCOMPP, FICOM, FICOMP and FTST (condition codes C3 C2
/// C0), FCOMI, FCOMIP, FUCOMI, FUCOMIP (EFLAGS ZF PF CF), FXAM; and the aliases FCOM2, FCOMP3,
/// FCOMP5 a P6 decodes.
/// </summary>
internal static unsafe partial class X87
{
    private static void RegisterComparisons(HandlerTable t)
    {
        foreach (var m in new[] { Mnemonic.Fcom, Mnemonic.Fcomp, Mnemonic.Fcompp, Mnemonic.Fucom, Mnemonic.Fucomp, Mnemonic.Fucompp, Mnemonic.Ficom, Mnemonic.Ficomp })
            foreach (var code in Forms(m)) t.Add(code, &Fcom);
        t.Add([Code.Fcomi_st0_sti, Code.Fcomip_st0_sti, Code.Fucomi_st0_sti, Code.Fucomip_st0_sti], &Fcomi);
        t.Add(Code.Ftst, &Ftst);
        t.Add(Code.Fxam, &Fxam);
    }

    private static ushort ConditionsOf(FloatRelation r) => r switch
    {
        FloatRelation.Greater => 0,
        FloatRelation.Less => Processor.FswC0,
        FloatRelation.Equal => Processor.FswC3,
        _ => Processor.FswC3 | Processor.FswC2 | Processor.FswC0,
    };

    private static int PopsOf(Mnemonic m) => m switch
    {
        Mnemonic.Fcomp or Mnemonic.Fucomp or Mnemonic.Ficomp or Mnemonic.Fcomip or Mnemonic.Fucomip => 1,
        Mnemonic.Fcompp or Mnemonic.Fucompp => 2,
        _ => 0,
    };

    /// <summary>
    /// The FCOM family: ST(0) against m32fp, m64fp, m16int, m32int or ST(i) (ST(1) without an
    /// operand). FUCOM* raise invalid operation only for signaling NaNs, the others for any NaN.
    /// With an unmasked invalid-operation or denormal exception the condition codes are set all
    /// the same, but the stack is not popped.
    /// </summary>
    private static bool Fcom(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        bool memory = d.Kind0 == OperandKind.Memory;
        ulong bits = memory ? c.Read(c.LinearAddress(ref d), d.Size0) : 0;
        c.RecordX87Instruction(ref d, hasMemoryOperand: memory);
        var m = d.I.Mnemonic;
        var ctx = Context(c);
        var a = ReadSt(c, ref ctx, 0);
        Float80 b;
        if (memory)
        {
            b = d.I.MemorySize switch
            {
                MemorySize.Int16 or MemorySize.Int32 => Float80Arithmetic.FromInteger(Processor.SignExtend(bits, d.Size0)),
                _ => Underflowed(ctx) ? Float80.Indefinite : WidenOperand(ref ctx, bits, d.Size0, a),
            };
        }
        else b = ReadSt(c, ref ctx, d.I.OpCount > 1 ? StOperand(ref d, 1) : 1);
        var relation = Underflowed(ctx) ? FloatRelation.Unordered
            : Float80Arithmetic.Compare(ref ctx, a, b, quietNaNsInvalid: m is not (Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp));
        // The condition codes are set even when the exception is unmasked (there is no destination to keep).
        SetConditions(c, ConditionsOf(relation));
        if (ctx.PreComputationFault)
        {
            c.FswBits |= (ushort)ctx.Raised;
            c.UpdateErrorSummary();
            return true;
        }
        c.FswBits |= (ushort)ctx.Raised;
        c.UpdateErrorSummary();
        for (int i = PopsOf(m); i > 0; i--) Pop(c);
        return true;
    }

    /// <summary>FCOMI/FUCOMI and the popping forms: ZF, PF, CF as an unsigned compare would set them (all three when unordered); OF, SF, AF cleared.</summary>
    private static bool Fcomi(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        var m = d.I.Mnemonic;
        var ctx = Context(c);
        var a = ReadSt(c, ref ctx, 0);
        var b = ReadSt(c, ref ctx, StOperand(ref d, 1));
        var relation = Underflowed(ctx) ? FloatRelation.Unordered
            : Float80Arithmetic.Compare(ref ctx, a, b, quietNaNsInvalid: m is Mnemonic.Fcomi or Mnemonic.Fcomip);
        ulong flags = relation switch
        {
            FloatRelation.Greater => 0,
            FloatRelation.Less => Processor.FlagCf,
            FloatRelation.Equal => Processor.FlagZf,
            _ => Processor.FlagZf | Processor.FlagPf | Processor.FlagCf,
        };
        // EFLAGS are set even when the exception is unmasked; the stack is then not popped.
        c.SetFlagsMasked(Processor.ArithFlags, flags);
        Flags(c, ctx.Raised, roundedUp: false);
        if (ctx.PreComputationFault) return true;
        for (int i = PopsOf(m); i > 0; i--) Pop(c);
        return true;
    }

    /// <summary>FTST: ST(0) against +0.0, as FCOM.</summary>
    private static bool Ftst(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        var ctx = Context(c);
        var a = ReadSt(c, ref ctx, 0);
        var relation = Underflowed(ctx) ? FloatRelation.Unordered
            : Float80Arithmetic.Compare(ref ctx, a, Float80.Zero(false), quietNaNsInvalid: true);
        SetConditions(c, ConditionsOf(relation));
        c.FswBits |= (ushort)ctx.Raised;
        c.UpdateErrorSummary();
        return true;
    }

    /// <summary>
    /// FXAM: C3 C2 C0 give ST(0)'s class (000 unsupported, 001 NaN, 010 normal, 011 infinity,
    /// 100 zero, 101 empty, 110 denormal), C1 its sign bit. No exceptions, not even for an empty register.
    /// </summary>
    private static bool Fxam(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        var v = c.St(0);
        ushort conditions;
        if (c.StEmpty(0)) conditions = Processor.FswC3 | Processor.FswC0;
        else if (v.IsUnsupported) conditions = 0;
        else if (v.IsNaN) conditions = Processor.FswC0;
        else if (v.IsInfinity) conditions = Processor.FswC2 | Processor.FswC0;
        else if (v.IsZero) conditions = Processor.FswC3;
        else if (v.IsDenormal) conditions = Processor.FswC3 | Processor.FswC2;
        else conditions = Processor.FswC2;
        if (v.Sign) conditions |= Processor.FswC1;
        SetConditions(c, conditions);
        return true;
    }
}
