using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN. The functions are computed well
/// beyond 64 bits and rounded once (<see cref="Float80Arithmetic"/>); a real x87's last bit
/// may differ. FSIN, FCOS, FSINCOS and FPTAN leave an operand of 2^63 or more alone and set C2.
/// </summary>
internal static unsafe partial class X87
{
    private static void RegisterTranscendentals(HandlerTable t)
    {
        t.Add(Code.F2xm1, &F2xm1);
        t.Add([Code.Fyl2x, Code.Fyl2xp1, Code.Fpatan], &PoppingBinaryFunction);
        t.Add([Code.Fsin, Code.Fcos], &FsinFcos);
        t.Add([Code.Fsincos, Code.Fptan], &FsincosFptan);
    }

    private static bool F2xm1(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        Complete(c, ref ctx, 0, Underflowed(ctx) ? value : Float80Arithmetic.TwoToXMinusOne(ref ctx, value), pop: false);
        return true;
    }

    /// <summary>FYL2X, FYL2XP1, FPATAN: ST(1) = f(ST(0), ST(1)), then pop.</summary>
    private static bool PoppingBinaryFunction(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var x = BeginUnary(c, ref d, ref ctx);
        var y = ReadSt(c, ref ctx, 1);
        Float80 result = Float80.Indefinite;
        if (!Underflowed(ctx))
        {
            result = d.I.Mnemonic switch
            {
                Mnemonic.Fyl2x => Float80Arithmetic.YLog2X(ref ctx, x, y),
                Mnemonic.Fyl2xp1 => Float80Arithmetic.YLog2XPlusOne(ref ctx, x, y),
                _ => Float80Arithmetic.Atan2(ref ctx, y, x),
            };
        }
        Complete(c, ref ctx, 1, result, pop: true);
        return true;
    }

    /// <summary>Sets C2 for an operand out of range (nothing else changes) or clears it. NaNs and unsupported encodings are not out of range: they are invalid.</summary>
    private static bool OutOfRange(Processor c, Float80 value)
    {
        bool outside = !value.IsUnsupported && !Float80Arithmetic.TrigonometricOperandInRange(value);
        c.FswBits = outside ? (ushort)(c.FswBits | Processor.FswC2) : (ushort)(c.FswBits & ~Processor.FswC2);
        return outside;
    }

    private static bool FsinFcos(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        if (Underflowed(ctx))
        {
            Complete(c, ref ctx, 0, value, pop: false);
            return true;
        }
        if (OutOfRange(c, value)) return true;
        bool sin = d.I.Mnemonic == Mnemonic.Fsin;
        var (s, cos) = Float80Arithmetic.SinCos(ref ctx, value, wantSin: sin, wantCos: !sin);
        Complete(c, ref ctx, 0, sin ? s : cos, pop: false);
        return true;
    }

    /// <summary>FSINCOS (ST(0) = sin, then cos pushed) and FPTAN (ST(0) = tan, then 1.0 pushed).</summary>
    private static bool FsincosFptan(Processor c, ref DecodedInstruction d)
    {
        var ctx = default(FloatContext);
        var value = BeginUnary(c, ref d, ref ctx);
        if (PushingStackFault(c, ref ctx)) return true;
        if (OutOfRange(c, value)) return true;
        Float80 replaced, pushed;
        if (d.I.Mnemonic == Mnemonic.Fsincos) (replaced, pushed) = Float80Arithmetic.SinCos(ref ctx, value, wantSin: true, wantCos: true);
        else
        {
            replaced = Float80Arithmetic.Tan(ref ctx, value);
            // A NaN result (a NaN operand, or the indefinite of an invalid one) is pushed instead of 1.0.
            pushed = replaced.IsNaN ? replaced : Float80.One;
        }
        if (ctx.PreComputationFault)
        {
            Flags(c, ctx.Raised & (X87Exceptions.PreComputation | X87Exceptions.StackFault), roundedUp: false);
            return true;
        }
        c.St(0) = replaced;
        PushValue(c, pushed);
        Flags(c, ctx.Raised, ctx.RoundedUp && (ctx.Raised & X87Exceptions.Precision) != 0);
        return true;
    }
}
