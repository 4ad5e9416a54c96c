namespace VmReplay.Engine.SoftCpu.X87Fpu;

internal static partial class Float80Arithmetic
{
    /// <summary>FRNDINT: rounds to an integer under the rounding mode (precision control does not apply).</summary>
    public static Float80 RoundToInteger(ref FloatContext ctx, Float80 a)
    {
        if (TakeNaN(ref ctx, a, out var nan)) return nan;
        if (a.IsInfinity || a.IsZero) return a;
        CheckDenormal(ref ctx, a);
        if (Unpack(a, out _) >= 63) return a;
        RoundToIntegerMagnitude(a, ctx.Rounding, out UInt128 magnitude, out bool inexact, out bool up);
        if (inexact) Inexact(ref ctx, up);
        return FromMagnitude(a.Sign, (ulong)magnitude);
    }

    /// <summary>
    /// FPREM (quotient truncated) and FPREM1 (quotient rounded to nearest, the IEEE remainder):
    /// <paramref name="a"/> − Q·<paramref name="b"/>, exact. When the exponents differ by 64 or
    /// more the reduction is partial (<paramref name="incomplete"/>): the exponent difference
    /// drops by N = 32 + (difference mod 32) (the SDM lets N be 32..63), and the instruction is to
    /// be repeated. <paramref name="quotient"/> holds the quotient's low bits of a complete reduction.
    /// </summary>
    public static Float80 Remainder(ref FloatContext ctx, Float80 a, Float80 b, bool roundToNearest, out ulong quotient, out bool incomplete)
    {
        quotient = 0;
        incomplete = false;
        if (TakeNaN(ref ctx, a, b, out var nan)) return nan;
        if (a.IsInfinity || b.IsZero) return Invalid(ref ctx);
        CheckDenormal(ref ctx, a);
        if (b.IsInfinity) return a.Canonical();
        CheckDenormal(ref ctx, b);
        if (a.IsZero) return a;
        int aExp = Unpack(a, out ulong aSig), bExp = Unpack(b, out ulong bSig);
        int difference = aExp - bExp;
        var exact = ctx.Extended();
        Float80 result;
        if (difference >= 64)
        {
            int n = 32 + (difference & 31);
            UInt128 shifted = (UInt128)aSig << 32 << (n - 32);
            UInt128 partial = shifted % bSig;
            incomplete = true;
            // shifted has its bit 63 + n at 2^aExp: the remainder's bit 63 weighs 2^(aExp - n).
            result = RoundToRegister(ref exact, a.Sign, aExp - n, partial << 64);
        }
        else if (difference < -1)
        {
            // Nothing to subtract; the operand still goes through rounding (a tiny one underflows).
            result = RoundToRegister(ref exact, a.Sign, aExp, (UInt128)aSig << 64);
        }
        else
        {
            // Both scaled by 2 so that a difference of -1 (where FPREM1 may still subtract once) needs no special case.
            UInt128 dividend = (UInt128)aSig << (difference + 1), divisor = (UInt128)bSig << 1;
            UInt128 q = dividend / divisor;
            UInt128 r = dividend - q * divisor;
            bool sign = a.Sign;
            if (roundToNearest && (r << 1 > divisor || r << 1 == divisor && (q & UInt128.One) != UInt128.Zero))
            {
                q++;
                r = divisor - r;
                sign = !sign;
            }
            quotient = (ulong)q;
            // r·2^(bExp - 64): bit 127 of r << 63 weighs 2^bExp.
            result = r == UInt128.Zero ? Float80.Zero(a.Sign) : RoundToRegister(ref exact, sign, bExp, r << 63);
        }
        ctx.Raised |= exact.Raised;
        ctx.RoundedUp = exact.RoundedUp;
        return result;
    }

    /// <summary>FSCALE: <paramref name="a"/> × 2^trunc(<paramref name="b"/>), rounded at full precision.</summary>
    public static Float80 Scale(ref FloatContext ctx, Float80 a, Float80 b)
    {
        if (TakeNaN(ref ctx, a, b, out var nan)) return nan;
        if (b.IsInfinity)
        {
            if (a.IsZero && !b.Sign || a.IsInfinity && b.Sign) return Invalid(ref ctx);
            CheckDenormal(ref ctx, a);
            if (a.IsZero || a.IsInfinity) return a;
            return b.Sign ? Float80.Zero(a.Sign) : Float80.Infinity(a.Sign);
        }
        CheckDenormal(ref ctx, a);
        CheckDenormal(ref ctx, b);
        if (a.IsZero || a.IsInfinity) return a;
        int n;
        if (b.IsZero) n = 0;
        else if (Unpack(b, out _) >= 16)
            n = b.Sign ? -70000 : 70000; // beyond any exponent: the result over- or underflows
        else
        {
            RoundToIntegerMagnitude(b, RoundingMode.TowardZero, out UInt128 magnitude, out _, out _);
            n = b.Sign ? -(int)magnitude : (int)magnitude;
        }
        int aExp = Unpack(a, out ulong aSig);
        var extended = ctx.Extended();
        var result = RoundToRegister(ref extended, a.Sign, aExp + n, (UInt128)aSig << 64);
        ctx.Raised |= extended.Raised;
        ctx.RoundedUp = extended.RoundedUp;
        return result;
    }

    /// <summary>
    /// FXTRACT: the unbiased exponent as a value, and the significand with the exponent of 1.0.
    /// Zero raises divide-by-zero (exponent −∞); a NaN gives itself twice.
    /// </summary>
    public static (Float80 Exponent, Float80 Significand) Extract(ref FloatContext ctx, Float80 a)
    {
        if (TakeNaN(ref ctx, a, out var nan)) return (nan, nan);
        if (a.IsZero)
        {
            ctx.Raise(X87Exceptions.ZeroDivide);
            return (Float80.Infinity(true), a);
        }
        if (a.IsInfinity) return (Float80.Infinity(false), a);
        CheckDenormal(ref ctx, a);
        int exp = Unpack(a, out ulong sig);
        return (FromInteger(exp), new Float80(a.Sign, Float80.Bias, sig));
    }
}
