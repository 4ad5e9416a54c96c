namespace VmReplay.Engine.SoftCpu.X87Fpu;

internal static partial class Float80Arithmetic
{
    /// <summary>
    /// The result of an operation with a NaN or an unsupported operand (SDM vol. 1, 4.8.3.5 and
    /// table 4-7): an unsupported encoding is invalid and gives the indefinite; a signaling NaN
    /// is invalid; of two NaNs the quiet one wins over the signaling one, else the one with the
    /// larger significand (the positive one on a tie); the result is quieted. Returns false when
    /// neither operand is a NaN or unsupported.
    /// </summary>
    public static bool TakeNaN(ref FloatContext ctx, Float80 a, Float80 b, out Float80 result)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            ctx.Raise(X87Exceptions.Invalid);
            result = Float80.Indefinite;
            return true;
        }
        bool aNaN = a.IsNaN, bNaN = b.IsNaN;
        if (!aNaN && !bNaN)
        {
            result = default;
            return false;
        }
        bool aSignaling = aNaN && a.IsSignalingNaN, bSignaling = bNaN && b.IsSignalingNaN;
        if (aSignaling || bSignaling) ctx.Raise(X87Exceptions.Invalid);
        Float80 r;
        if (aNaN && bNaN)
        {
            if (aSignaling != bSignaling) r = aSignaling ? b : a;
            else if (a.Significand != b.Significand) r = a.Significand > b.Significand ? a : b;
            else r = a.SignExponent < b.SignExponent ? a : b;
        }
        else r = aNaN ? a : b;
        result = r.Quieted();
        return true;
    }

    /// <summary>The result of a one-operand operation on a NaN or unsupported operand; false for other operands.</summary>
    public static bool TakeNaN(ref FloatContext ctx, Float80 a, out Float80 result)
    {
        if (a.IsUnsupported)
        {
            ctx.Raise(X87Exceptions.Invalid);
            result = Float80.Indefinite;
            return true;
        }
        if (!a.IsNaN)
        {
            result = default;
            return false;
        }
        if (a.IsSignalingNaN) ctx.Raise(X87Exceptions.Invalid);
        result = a.Quieted();
        return true;
    }

    /// <summary>Invalid operation with the indefinite as its masked response.</summary>
    public static Float80 Invalid(ref FloatContext ctx)
    {
        ctx.Raise(X87Exceptions.Invalid);
        return Float80.Indefinite;
    }

    public static void CheckDenormal(ref FloatContext ctx, Float80 a)
    {
        if (a.IsDenormal || ctx.DenormalSource) ctx.Raise(X87Exceptions.Denormal);
    }

    public static Float80 Add(ref FloatContext ctx, Float80 a, Float80 b) => AddSigned(ref ctx, a, b, negateB: false);

    public static Float80 Subtract(ref FloatContext ctx, Float80 a, Float80 b) => AddSigned(ref ctx, a, b, negateB: true);

    private static Float80 AddSigned(ref FloatContext ctx, Float80 a, Float80 b, bool negateB)
    {
        if (TakeNaN(ref ctx, a, b, out var nan)) return nan;
        bool aSign = a.Sign, bSign = b.Sign ^ negateB;
        if (a.IsInfinity || b.IsInfinity)
        {
            CheckDenormal(ref ctx, a);
            CheckDenormal(ref ctx, b);
            if (a.IsInfinity && b.IsInfinity && aSign != bSign) return Invalid(ref ctx);
            return Float80.Infinity(a.IsInfinity ? aSign : bSign);
        }
        CheckDenormal(ref ctx, a);
        CheckDenormal(ref ctx, b);
        if (a.IsZero && b.IsZero)
        {
            // Exact zero sum of opposite signs is +0, -0 when rounding down (IEEE 754 6.3).
            bool sign = aSign == bSign ? aSign : ctx.Rounding == RoundingMode.Down;
            return Float80.Zero(sign);
        }
        if (a.IsZero) return RoundOperand(ref ctx, bSign, b);
        if (b.IsZero) return RoundOperand(ref ctx, aSign, a);

        int aExp = Unpack(a, out ulong aSig), bExp = Unpack(b, out ulong bSig);
        // Bit 126 holds J, leaving bit 127 for the carry of a sum.
        UInt128 x = (UInt128)aSig << 63, y = (UInt128)bSig << 63;
        if (aExp < bExp || aExp == bExp && aSig < bSig)
        {
            (x, y) = (y, x);
            (aExp, bExp) = (bExp, aExp);
            (aSign, bSign) = (bSign, aSign);
        }
        y = ShiftRightJam(y, aExp - bExp);
        if (aSign == bSign) return RoundToRegister(ref ctx, aSign, aExp + 1, x + y);
        UInt128 difference = x - y;
        if (difference == UInt128.Zero) return Float80.Zero(ctx.Rounding == RoundingMode.Down);
        return RoundToRegister(ref ctx, aSign, aExp + 1, difference);
    }

    /// <summary>A finite operand rounded to the context's precision (a sum with zero is still rounded, and normalised).</summary>
    private static Float80 RoundOperand(ref FloatContext ctx, bool sign, Float80 a)
    {
        int exp = Unpack(a, out ulong sig);
        return RoundToRegister(ref ctx, sign, exp, (UInt128)sig << 64);
    }

    public static Float80 Multiply(ref FloatContext ctx, Float80 a, Float80 b)
    {
        if (TakeNaN(ref ctx, a, b, out var nan)) return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsZero || b.IsZero) return Invalid(ref ctx);
            CheckDenormal(ref ctx, a);
            CheckDenormal(ref ctx, b);
            return Float80.Infinity(sign);
        }
        CheckDenormal(ref ctx, a);
        CheckDenormal(ref ctx, b);
        if (a.IsZero || b.IsZero) return Float80.Zero(sign);
        int aExp = Unpack(a, out ulong aSig), bExp = Unpack(b, out ulong bSig);
        UInt128 product = (UInt128)aSig * bSig;
        // J·J lands at bit 126 (or 127): the product's bit 127 weighs 2^(aExp + bExp + 1).
        return RoundToRegister(ref ctx, sign, aExp + bExp + 1, product);
    }

    public static Float80 Divide(ref FloatContext ctx, Float80 a, Float80 b)
    {
        if (TakeNaN(ref ctx, a, b, out var nan)) return nan;
        bool sign = a.Sign ^ b.Sign;
        if (a.IsInfinity)
        {
            if (b.IsInfinity) return Invalid(ref ctx);
            CheckDenormal(ref ctx, b);
            return Float80.Infinity(sign);
        }
        if (b.IsInfinity)
        {
            CheckDenormal(ref ctx, a);
            return Float80.Zero(sign);
        }
        if (b.IsZero)
        {
            // Divide-by-zero takes precedence over a denormal dividend (SDM vol. 1, 4.9.2).
            if (a.IsZero) return Invalid(ref ctx);
            ctx.Raise(X87Exceptions.ZeroDivide);
            return Float80.Infinity(sign);
        }
        CheckDenormal(ref ctx, a);
        CheckDenormal(ref ctx, b);
        if (a.IsZero) return Float80.Zero(sign);
        int aExp = Unpack(a, out ulong aSig), bExp = Unpack(b, out ulong bSig);
        // Two long divisions give 128 quotient bits (the first at most 64, since aSig·2^63 < bSig·2^64);
        // the last remainder is the sticky bit.
        UInt128 dividend = (UInt128)aSig << 63;
        UInt128 high = dividend / bSig;
        UInt128 remainder = dividend - high * bSig;
        UInt128 low = (remainder << 64) / bSig;
        UInt128 lowRemainder = (remainder << 64) - low * bSig;
        UInt128 quotient = (high << 64) | low;
        if (lowRemainder != UInt128.Zero) quotient |= UInt128.One;
        // The quotient is aSig/bSig·2^127: its bit 127 weighs 2^(aExp - bExp).
        return RoundToRegister(ref ctx, sign, aExp - bExp, quotient);
    }

    public static Float80 SquareRoot(ref FloatContext ctx, Float80 a)
    {
        if (TakeNaN(ref ctx, a, out var nan)) return nan;
        if (a.IsZero) return a;
        if (a.Sign) return Invalid(ref ctx);
        if (a.IsInfinity) return a;
        CheckDenormal(ref ctx, a);
        int exp = Unpack(a, out ulong sig);
        // a = sig·2^(exp-63). Shifting by 63 or 64 leaves an even power of two over, and the
        // radicand sig·2^shift in [2^126, 2^128), whose root has exactly 64 bits.
        int shift = (exp & 1) == 0 ? 63 : 64;
        UInt128 radicand = (UInt128)sig << shift;
        ulong root = IntegerSquareRoot(radicand);
        UInt128 rest = radicand - (UInt128)root * root;
        // The bits below the root: above half when rest > root (rest can never equal root + 1/4).
        ulong below = rest == UInt128.Zero ? 0 : rest > root ? 0x8000_0000_0000_0001UL : 1UL;
        int rootExponent = 63 + (exp - 63 - shift) / 2;
        return RoundToRegister(ref ctx, false, rootExponent, (UInt128)root << 64 | below);
    }

    /// <summary>floor(√<paramref name="v"/>) for v below 2^128.</summary>
    public static ulong IntegerSquareRoot(UInt128 v)
    {
        if (v == UInt128.Zero) return 0;
        UInt128 r = (UInt128)Math.Sqrt((double)v);
        if (r == UInt128.Zero) r = UInt128.One;
        // One Newton step from a 52-bit estimate is within one of the root; then correct exactly.
        r = (r + v / r) >> 1;
        while (r * r > v) r--;
        while (r < ulong.MaxValue && (r + 1) * (r + 1) <= v) r++;
        return (ulong)r;
    }
}
