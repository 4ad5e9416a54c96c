using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// FADD, FSUB, FSUBR, FMUL, FDIV, FDIVR in all forms (m32, m64, ST(0) with ST(i), ST(i) with
/// ST(0), the popping forms, FIADD..FIDIVR with m16/m32 integers); FCHS, FABS, FSQRT, FRNDINT,
/// FSCALE, FXTRACT, FPREM, FPREM1.
/// </summary>
internal static unsafe partial class X87
{
    private static void RegisterArithmetic(HandlerTable t)
    {
        RegisterBinary<AddOperation>(t, Mnemonic.Fadd, Mnemonic.Faddp, Mnemonic.Fiadd);
        RegisterBinary<SubtractOperation>(t, Mnemonic.Fsub, Mnemonic.Fsubp, Mnemonic.Fisub);
        RegisterBinary<SubtractReversedOperation>(t, Mnemonic.Fsubr, Mnemonic.Fsubrp, Mnemonic.Fisubr);
        RegisterBinary<MultiplyOperation>(t, Mnemonic.Fmul, Mnemonic.Fmulp, Mnemonic.Fimul);
        RegisterBinary<DivideOperation>(t, Mnemonic.Fdiv, Mnemonic.Fdivp, Mnemonic.Fidiv);
        RegisterBinary<DivideReversedOperation>(t, Mnemonic.Fdivr, Mnemonic.Fdivrp, Mnemonic.Fidivr);
        t.Add(Code.Fchs, &Fchs);
        t.Add(Code.Fabs, &Fabs);
        t.Add(Code.Fsqrt, &Fsqrt);
        t.Add(Code.Frndint, &Frndint);
        t.Add(Code.Fscale, &Fscale);
        t.Add(Code.Fxtract, &Fxtract);
        t.Add([Code.Fprem, Code.Fprem1], &Fprem);
    }

    private static void RegisterBinary<T>(HandlerTable t, Mnemonic plain, Mnemonic popping, Mnemonic integer) where T : IBinaryOperation
    {
        foreach (var code in Forms(plain))
        {
            if (IsMemoryForm(code)) t.Add(code, &BinaryMemory<T>);
            else t.Add(code, &BinaryRegisters<T>);
        }
        foreach (var code in Forms(popping)) t.Add(code, &BinaryRegistersPop<T>);
        foreach (var code in Forms(integer)) t.Add(code, &BinaryMemory<T>);
    }

    /// <summary>
    /// A form of FADD, FSUB, FSUBR, FMUL, FDIV or FDIVR with a memory operand (Iced's name ends in
    /// "fp"; listed, not found by the name: see <see cref="SseInstructionSet.IsMmxForm"/>).
    /// </summary>
    internal static bool IsMemoryForm(Code code) => code is Code.Fadd_m32fp or Code.Fmul_m32fp or Code.Fsub_m32fp or Code.Fsubr_m32fp
        or Code.Fdiv_m32fp or Code.Fdivr_m32fp or Code.Fadd_m64fp or Code.Fmul_m64fp or Code.Fsub_m64fp or Code.Fsubr_m64fp
        or Code.Fdiv_m64fp or Code.Fdivr_m64fp;

    /// <summary>destination = destination op source (the reversed forms swap the operands).</summary>
    private interface IBinaryOperation
    {
        static abstract Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source);
    }

    private struct AddOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Add(ref ctx, destination, source);
    }

    private struct SubtractOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Subtract(ref ctx, destination, source);
    }

    private struct SubtractReversedOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Subtract(ref ctx, source, destination);
    }

    private struct MultiplyOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Multiply(ref ctx, destination, source);
    }

    private struct DivideOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Divide(ref ctx, destination, source);
    }

    private struct DivideReversedOperation : IBinaryOperation
    {
        public static Float80 Apply(ref FloatContext ctx, Float80 destination, Float80 source) => Float80Arithmetic.Divide(ref ctx, source, destination);
    }

    /// <summary>ST(0) = ST(0) op m32fp/m64fp/m16int/m32int.</summary>
    private static bool BinaryMemory<T>(Processor c, ref DecodedInstruction d) where T : IBinaryOperation
    {
        c.CheckX87(waiting: true);
        int size = d.Size0;
        ulong bits = c.Read(c.LinearAddress(ref d), size);
        c.RecordX87Instruction(ref d, hasMemoryOperand: true);
        var ctx = Context(c);
        var destination = ReadSt(c, ref ctx, 0);
        Float80 result;
        if (Underflowed(ctx)) result = Float80.Indefinite;
        else
        {
            bool integer = d.I.MemorySize is MemorySize.Int16 or MemorySize.Int32;
            var source = integer ? Float80Arithmetic.FromInteger(Processor.SignExtend(bits, size)) : WidenOperand(ref ctx, bits, size, destination);
            result = T.Apply(ref ctx, destination, source);
        }
        Complete(c, ref ctx, 0, result, pop: false);
        return true;
    }

    /// <summary>
    /// A m32fp/m64fp operand widened for an operation with <paramref name="other"/>: a signaling
    /// NaN is invalid at once, but a denormal raises #D only where the operation checks its
    /// operands for denormals (not when the other operand is a NaN, nor for a division by zero).
    /// </summary>
    private static Float80 WidenOperand(ref FloatContext ctx, ulong bits, int size, Float80 other)
    {
        var conversion = ctx;
        conversion.Raised = X87Exceptions.None;
        // A signaling NaN stays signaling: the operation's NaN rules (a quiet NaN wins over it) need to know.
        var value = size == 4 ? Float80Arithmetic.FromSingle(ref conversion, (uint)bits, quiet: false) : Float80Arithmetic.FromDouble(ref conversion, bits, quiet: false);
        ctx.Raised |= conversion.Raised & X87Exceptions.Invalid;
        ctx.DenormalSource = (conversion.Raised & X87Exceptions.Denormal) != 0;
        return value;
    }

    /// <summary>ST(0) = ST(0) op ST(i), or ST(i) = ST(i) op ST(0): operand 0 is the destination.</summary>
    private static bool BinaryRegisters<T>(Processor c, ref DecodedInstruction d) where T : IBinaryOperation => BinaryRegisters<T>(c, ref d, pop: false);

    private static bool BinaryRegistersPop<T>(Processor c, ref DecodedInstruction d) where T : IBinaryOperation => BinaryRegisters<T>(c, ref d, pop: true);

    private static bool BinaryRegisters<T>(Processor c, ref DecodedInstruction d, bool pop) where T : IBinaryOperation
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        int destinationIndex = StOperand(ref d, 0);
        var ctx = Context(c);
        var destination = ReadSt(c, ref ctx, destinationIndex);
        var source = ReadSt(c, ref ctx, StOperand(ref d, 1));
        var result = Underflowed(ctx) ? Float80.Indefinite : T.Apply(ref ctx, destination, source);
        Complete(c, ref ctx, destinationIndex, result, pop);
        return true;
    }

    /// <summary>Starts a one-operand instruction on ST(0): the checks, and ST(0) (the indefinite after a stack underflow).</summary>
    private static Float80 BeginUnary(Processor c, ref DecodedInstruction d, ref FloatContext ctx)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        ctx = Context(c);
        return ReadSt(c, ref ctx, 0);
    }

    /// <summary>FCHS and FABS change the sign bit only, of any encoding; no exception but stack underflow.</summary>
    private static bool Fchs(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? value : value.Negate(), pop: false);
        return true;
    }

    private static bool Fabs(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? value : value.Abs(), pop: false);
        return true;
    }

    private static bool Fsqrt(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? value : Float80Arithmetic.SquareRoot(ref ctx, value), pop: false);
        return true;
    }

    private static bool Frndint(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? value : Float80Arithmetic.RoundToInteger(ref ctx, value), pop: false);
        return true;
    }

    private static bool Fscale(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        var scale = ReadSt(c, ref ctx, 1);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? Float80.Indefinite : Float80Arithmetic.Scale(ref ctx, value, scale), pop: false);
        return true;
    }

    /// <summary>FXTRACT: ST(0) becomes the exponent and the significand is pushed on it.</summary>
    private static bool Fxtract(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        if (PushingStackFault(c, ref ctx)) return true;
        var (exponent, significand) = Float80Arithmetic.Extract(ref ctx, value);
        if (ctx.PreComputationFault)
        {
            Flags(c, ctx.Raised & X87Exceptions.PreComputation, roundedUp: false);
            return true;
        }
        c.St(0) = exponent;
        PushValue(c, significand);
        Flags(c, ctx.Raised, roundedUp: false);
        return true;
    }

    /// <summary>
    /// The stack faults of an instruction that replaces ST(0) and pushes a second result
    /// (FXTRACT, FPTAN, FSINCOS): ST(0) empty is an underflow (C1 = 0), the register below it in
    /// use an overflow (C1 = 1); masked, both results are the indefinite. True if there was one.
    /// </summary>
    private static bool PushingStackFault(Processor c, ref FloatContext ctx)
    {
        if (!Underflowed(ctx) && c.StEmpty(-1)) return false;
        c.FswBits |= Processor.FswIe | Processor.FswSf;
        SetC1(c, !Underflowed(ctx));
        if ((c.Fcw & Processor.FswIe) != 0)
        {
            c.St(0) = Float80.Indefinite;
            c.FpuTagValid |= (byte)(1 << c.FpuTop);
            PushValue(c, Float80.Indefinite);
        }
        c.UpdateErrorSummary();
        return true;
    }

    /// <summary>
    /// FPREM/FPREM1: C2 set while the reduction is incomplete; once complete, C0, C3, C1 are the
    /// quotient's bits 2, 1, 0.
    /// </summary>
    private static bool Fprem(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        var divisor = ReadSt(c, ref ctx, 1);
        if (Underflowed(ctx))
        {
            Complete(c, ref ctx, 0, Float80.Indefinite, pop: false);
            return true;
        }
        var result = Float80Arithmetic.Remainder(ref ctx, value, divisor, roundToNearest: d.I.Mnemonic == Mnemonic.Fprem1, out ulong quotient, out bool incomplete);
        Complete(c, ref ctx, 0, result, pop: false);
        if (ctx.PreComputationFault) return true;
        ushort conditions = 0;
        if (incomplete) conditions |= Processor.FswC2;
        else if ((ctx.Raised & X87Exceptions.Invalid) == 0)
        {
            if ((quotient & 4) != 0) conditions |= Processor.FswC0;
            if ((quotient & 2) != 0) conditions |= Processor.FswC3;
            if ((quotient & 1) != 0) conditions |= Processor.FswC1;
        }
        SetConditions(c, conditions);
        return true;
    }
}
