namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// The transcendental instructions' functions: 2^x − 1, y·log2(x), y·log2(x + 1), atan2, sin,
/// cos, tan. Their last bits are the implementation's own on every x87 (Intel and AMD differ);
/// here they are computed in <see cref="WideFloat"/> (series after argument reduction, about
/// 2^-110 relative error) and rounded once, so results are the correctly rounded value but for
/// the rarest ties. The special operands follow the SDM's tables for each instruction.
/// </summary>
internal static partial class Float80Arithmetic
{
    private static readonly WideFloat WideLnTwo = new(false, -1, X87Constants.LnTwoSignificand);
    private static readonly WideFloat WideLog2E = new(false, 0, X87Constants.Log2ESignificand);
    private static readonly WideFloat WidePi = new(false, 1, X87Constants.PiSignificand);
    private static readonly WideFloat WideHalfPi = WidePi.Scale(-1);
    private static readonly WideFloat WideQuarterPi = WidePi.Scale(-2);
    private static readonly WideFloat WideSqrtTwoMinusOne = new(false, -2, new UInt128(0xD413CCCFE7799211, 0x65F626CDD52AFA7C));
    private static readonly WideFloat WideSqrtTwo = new(false, 0, new UInt128(0xB504F333F9DE6484, 0x597D89B3754ABE9F));
    // π/2 in three parts of 64 bits (Cody and Waite): k × each part is exact for |k| < 2^64.
    private static readonly WideFloat HalfPiHigh = Part(0xC90FDAA22168C234, 0);
    private static readonly WideFloat HalfPiMiddle = Part(0xC4C6628B80DC1CD1, -64);
    private static readonly WideFloat HalfPiLow = Part(0x29024E088A67CC74, -128);
    private static readonly WideFloat TwoOverPi = WideFloat.One.Scale(1) / WidePi;

    /// <summary>A 64-bit part whose bit 63 weighs 2^<paramref name="exponent"/>.</summary>
    private static WideFloat Part(ulong bits, int exponent) => WideFloat.From((long)(bits >> 1)).Scale(exponent - 62) + WideFloat.From((long)(bits & 1)).Scale(exponent - 63);

    /// <summary>The series stop when a term drops this far below the sum.</summary>
    private const int SeriesBits = 124;

    private static bool Negligible(WideFloat term, WideFloat sum) => term.IsZero || !sum.IsZero && term.Exponent < sum.Exponent - SeriesBits;

    /// <summary>e^t − 1 for |t| ≤ 1: t + t²/2! + t³/3! + ...</summary>
    private static WideFloat ExpMinusOne(WideFloat t)
    {
        WideFloat sum = t, term = t;
        for (int k = 2; k < 200; k++)
        {
            term = term * t / WideFloat.From(k);
            sum += term;
            if (Negligible(term, sum)) break;
        }
        return sum;
    }

    /// <summary>2·atanh(s) = ln((1 + s)/(1 − s)) for |s| ≤ 0.18: 2(s + s³/3 + s⁵/5 + ...).</summary>
    private static WideFloat TwiceAtanh(WideFloat s)
    {
        WideFloat square = s * s, power = s, sum = s;
        for (int k = 3; k < 400; k += 2)
        {
            power *= square;
            var term = power / WideFloat.From(k);
            sum += term;
            if (Negligible(term, sum)) break;
        }
        return sum.Scale(1);
    }

    /// <summary>log2 of a positive finite value: its exponent plus the logarithm of its significand brought into [√2/2, √2).</summary>
    private static WideFloat Log2(Float80 x, out bool exact)
    {
        int exp = Unpack(x, out ulong sig);
        var m = new WideFloat(false, 0, (UInt128)sig << 64);
        exact = sig == Float80.IntegerBit;
        if (!m.MagnitudeBelow(WideSqrtTwo))
        {
            m = m.Scale(-1);
            exp++;
        }
        var lnM = exact ? WideFloat.Zero : TwiceAtanh((m - WideFloat.One) / (m + WideFloat.One));
        return WideFloat.From(exp) + lnM * WideLog2E;
    }

    /// <summary>atan(z) for 0 ≤ z ≤ 1: the series directly below √2 − 1, else π/4 + atan((z − 1)/(z + 1)).</summary>
    private static WideFloat Atan(WideFloat z)
    {
        if (z.MagnitudeBelow(WideSqrtTwoMinusOne)) return AtanSeries(z);
        return WideQuarterPi + AtanSeries((z - WideFloat.One) / (z + WideFloat.One));
    }

    private static WideFloat AtanSeries(WideFloat w)
    {
        WideFloat square = w * w, power = w, sum = w;
        for (int k = 3; k < 1000; k += 2)
        {
            power = -(power * square);
            var term = power / WideFloat.From(k);
            sum += term;
            if (Negligible(term, sum)) break;
        }
        return sum;
    }

    /// <summary>sin r and cos r for |r| ≤ π/4 (a little more when the quadrant was rounded the other way).</summary>
    private static (WideFloat Sin, WideFloat Cos) SinCosReduced(WideFloat r)
    {
        WideFloat square = r * r;
        WideFloat sin = r, term = r;
        for (int k = 2; k < 200; k += 2)
        {
            term = -(term * square / WideFloat.From((long)k * (k + 1)));
            sin += term;
            if (Negligible(term, sin)) break;
        }
        WideFloat cos = WideFloat.One;
        term = WideFloat.One;
        for (int k = 1; k < 200; k += 2)
        {
            term = -(term * square / WideFloat.From((long)k * (k + 1)));
            cos += term;
            if (Negligible(term, cos)) break;
        }
        return (sin, cos);
    }

    /// <summary>x = k·π/2 + r with |r| ≤ π/4; returns r and k mod 4. x must be below 2^63 in magnitude.</summary>
    private static WideFloat Reduce(Float80 x, out int quadrant)
    {
        var wx = WideFloat.From(x);
        long k = (wx * TwoOverPi).NearestInteger();
        quadrant = (int)(k & 3);
        if (k == 0) return wx;
        var wk = WideFloat.From(k);
        return wx - wk * HalfPiHigh - wk * HalfPiMiddle - wk * HalfPiLow;
    }

    /// <summary>The operand range of FSIN, FCOS, FSINCOS, FPTAN: |x| &lt; 2^63; outside it C2 is set and nothing changes.</summary>
    public static bool TrigonometricOperandInRange(Float80 x) => !(x.Exponent >= Float80.Bias + 63 && x.Exponent != Float80.MaxExponent);

    /// <summary>
    /// sin and cos of ST(0) (FSIN, FCOS, FSINCOS): a NaN gives itself, an infinity or unsupported
    /// operand is invalid (both results the indefinite), zero gives ±0 and 1 exactly. The operand
    /// must be in range (<see cref="TrigonometricOperandInRange"/>).
    /// </summary>
    public static (Float80 Sin, Float80 Cos) SinCos(ref FloatContext ctx, Float80 x, bool wantSin, bool wantCos)
    {
        if (TakeNaN(ref ctx, x, out var nan)) return (nan, nan);
        if (x.IsInfinity) return (Invalid(ref ctx), Float80.Indefinite);
        CheckDenormal(ref ctx, x);
        if (x.IsZero) return (x, Float80.One);
        var r = Reduce(x, out int quadrant);
        var (sin, cos) = SinCosReduced(r);
        var (s, c) = quadrant switch
        {
            0 => (sin, cos),
            1 => (cos, -sin),
            2 => (-sin, -cos),
            _ => (-cos, sin),
        };
        // Both come from one reduction; each rounds on its own, and C1 is the one left last.
        Float80 sinResult = default, cosResult = default;
        if (wantCos) cosResult = c.Round(ref ctx);
        if (wantSin) sinResult = s.Round(ref ctx);
        return (sinResult, cosResult);
    }

    /// <summary>FPTAN: tan(x) (the instruction then pushes 1.0). Zero gives itself exactly.</summary>
    public static Float80 Tan(ref FloatContext ctx, Float80 x)
    {
        if (TakeNaN(ref ctx, x, out var nan)) return nan;
        if (x.IsInfinity) return Invalid(ref ctx);
        CheckDenormal(ref ctx, x);
        if (x.IsZero) return x;
        var r = Reduce(x, out int quadrant);
        var (sin, cos) = SinCosReduced(r);
        var tan = (quadrant & 1) == 0 ? sin / cos : -(cos / sin);
        return tan.Round(ref ctx);
    }

    /// <summary>F2XM1: 2^x − 1, defined for −1 ≤ x ≤ 1 (computed beyond too). ±0 gives itself; +∞ gives +∞, −∞ gives −1.</summary>
    public static Float80 TwoToXMinusOne(ref FloatContext ctx, Float80 x)
    {
        if (TakeNaN(ref ctx, x, out var nan)) return nan;
        if (x.IsInfinity) return x.Sign ? Float80.One.Negate() : x;
        CheckDenormal(ref ctx, x);
        if (x.IsZero) return x;
        var t = WideFloat.From(x) * WideLnTwo;
        if (t.Exponent >= 1)
        {
            // Beyond |x| = 2.9 (outside the defined range): e^t by halving, then squaring.
            var half = ExpMinusOne(t.Scale(-8)) + WideFloat.One;
            for (int i = 0; i < 8; i++) half *= half;
            return (half - WideFloat.One).Round(ref ctx);
        }
        return ExpMinusOne(t).Round(ref ctx);
    }

    /// <summary>
    /// FYL2X: y·log2(x). x &lt; 0 is invalid; x = ±0 gives ∓∞·sign(y) with divide-by-zero (invalid
    /// for y = 0); x = +∞ gives ±∞ (invalid for y = 0); x = 1 gives ±0 (invalid for y = ±∞).
    /// </summary>
    public static Float80 YLog2X(ref FloatContext ctx, Float80 x, Float80 y)
    {
        if (TakeNaN(ref ctx, x, y, out var nan)) return nan;
        if (x.Sign && !x.IsZero) return Invalid(ref ctx);
        CheckDenormal(ref ctx, x);
        CheckDenormal(ref ctx, y);
        if (x.IsZero)
        {
            if (y.IsZero) return Invalid(ref ctx);
            if (!y.IsInfinity) ctx.Raise(X87Exceptions.ZeroDivide);
            return Float80.Infinity(!y.Sign);
        }
        if (x.IsInfinity)
        {
            if (y.IsZero) return Invalid(ref ctx);
            return Float80.Infinity(y.Sign);
        }
        var log = Log2(x, out bool exact);
        if (log.IsZero)
        {
            if (y.IsInfinity) return Invalid(ref ctx);
            return Float80.Zero(y.Sign);
        }
        if (y.IsInfinity) return Float80.Infinity(y.Sign ^ log.Sign);
        if (y.IsZero) return Float80.Zero(y.Sign ^ log.Sign);
        // A power of two has an exact logarithm: then it is one rounded multiplication.
        if (exact)
        {
            var extended = ctx.Extended();
            var product = Multiply(ref extended, y, FromInteger(log.NearestInteger()));
            ctx.Raised |= extended.Raised;
            ctx.RoundedUp = extended.RoundedUp;
            return product;
        }
        return (WideFloat.From(y) * log).Round(ref ctx);
    }

    /// <summary>FYL2XP1: y·log2(x + 1), defined for |x| &lt; 1 − √2/2 (computed for any x &gt; −1).</summary>
    public static Float80 YLog2XPlusOne(ref FloatContext ctx, Float80 x, Float80 y)
    {
        if (TakeNaN(ref ctx, x, y, out var nan)) return nan;
        CheckDenormal(ref ctx, x);
        CheckDenormal(ref ctx, y);
        if (x.IsInfinity)
        {
            if (x.Sign || y.IsZero) return Invalid(ref ctx);
            return Float80.Infinity(y.Sign);
        }
        if (x.IsZero)
        {
            if (y.IsInfinity) return Invalid(ref ctx);
            return Float80.Zero(x.Sign ^ y.Sign);
        }
        var wx = WideFloat.From(x);
        if (x.Sign && !wx.MagnitudeBelow(WideFloat.One)) return Invalid(ref ctx);
        if (y.IsInfinity) return Float80.Infinity(x.Sign ^ y.Sign);
        if (y.IsZero) return Float80.Zero(x.Sign ^ y.Sign);
        var ln = TwiceAtanh(wx / (wx + WideFloat.One.Scale(1)));
        return (WideFloat.From(y) * ln * WideLog2E).Round(ref ctx);
    }

    /// <summary>FPATAN: the angle of (x, y), atan(y/x) in the right quadrant, in [−π, π]; the special operands as the SDM's table.</summary>
    public static Float80 Atan2(ref FloatContext ctx, Float80 y, Float80 x)
    {
        if (TakeNaN(ref ctx, y, x, out var nan)) return nan;
        CheckDenormal(ref ctx, x);
        CheckDenormal(ref ctx, y);
        WideFloat angle;
        if (y.IsZero) angle = x.Sign ? WidePi : WideFloat.Zero;
        else if (x.IsInfinity && y.IsInfinity) angle = x.Sign ? WidePi - WideQuarterPi : WideQuarterPi;
        else if (y.IsInfinity || x.IsZero) angle = WideHalfPi;
        else if (x.IsInfinity) angle = x.Sign ? WidePi : WideFloat.Zero;
        else
        {
            var wy = WideFloat.From(y).Abs();
            var wx = WideFloat.From(x).Abs();
            angle = wy.MagnitudeBelow(wx) || wy == wx ? Atan(wy / wx) : WideHalfPi - Atan(wx / wy);
            if (x.Sign) angle = WidePi - angle;
        }
        if (angle.IsZero) return Float80.Zero(y.Sign);
        return (y.Sign ? angle.Negate() : angle).Round(ref ctx);
    }
}
