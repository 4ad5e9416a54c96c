using System.Numerics;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// A binary floating-point number with a 128-bit significand and an unbounded exponent, for the
/// transcendental functions: their series run in it, about 2^-120 relative error per operation,
/// well below the 2^-64 of the result they are rounded to. Value = Significand × 2^(Exponent − 127),
/// the significand normalised (bit 127 set) unless the value is zero. Operations truncate.
/// </summary>
internal readonly record struct WideFloat(bool Sign, int Exponent, UInt128 Significand)
{
    public static readonly WideFloat Zero = new(false, 0, UInt128.Zero);
    public static readonly WideFloat One = new(false, 0, UInt128.One << 127);

    public bool IsZero => Significand == UInt128.Zero;

    /// <summary>A finite register value, exactly.</summary>
    public static WideFloat From(Float80 a)
    {
        if (a.IsZero) return Zero with { Sign = a.Sign };
        int exp = Float80Arithmetic.Unpack(a, out ulong sig);
        return new WideFloat(a.Sign, exp, (UInt128)sig << 64);
    }

    public static WideFloat From(long n)
    {
        if (n == 0) return Zero;
        ulong m = n < 0 ? (ulong)-n : (ulong)n;
        int lz = BitOperations.LeadingZeroCount(m);
        return new WideFloat(n < 0, 63 - lz, (UInt128)(m << lz) << 64);
    }

    /// <summary>Rounds to a register value under the context at full precision; <paramref name="inexact"/> marks the value as approximate (a sticky bit below all 128).</summary>
    public Float80 Round(ref FloatContext ctx, bool inexact = true)
    {
        if (IsZero) return Float80.Zero(Sign);
        var extended = ctx.Extended();
        // One more bit below the significand stands for the error of the series: never exact.
        var r = Float80Arithmetic.RoundToRegister(ref extended, Sign, Exponent, inexact ? Significand | UInt128.One : Significand);
        ctx.Raised |= extended.Raised;
        ctx.RoundedUp = extended.RoundedUp;
        return r;
    }

    public WideFloat Negate() => this with { Sign = !Sign };

    public WideFloat Abs() => this with { Sign = false };

    private static WideFloat Normalize(bool sign, int exponent, UInt128 significand)
    {
        if (significand == UInt128.Zero) return Zero;
        int lz = Float80Arithmetic.LeadingZeros(significand);
        return new WideFloat(sign, exponent - lz, significand << lz);
    }

    public static WideFloat operator *(WideFloat a, WideFloat b)
    {
        if (a.IsZero || b.IsZero) return Zero;
        ulong a1 = (ulong)(a.Significand >> 64), a0 = (ulong)a.Significand, b1 = (ulong)(b.Significand >> 64), b0 = (ulong)b.Significand;
        UInt128 p11 = (UInt128)a1 * b1, p10 = (UInt128)a1 * b0, p01 = (UInt128)a0 * b1, p00 = (UInt128)a0 * b0;
        UInt128 middle = (p00 >> 64) + (ulong)p10 + (ulong)p01;
        UInt128 high = p11 + (p10 >> 64) + (p01 >> 64) + (middle >> 64);
        ulong below = (ulong)middle;
        int exponent = a.Exponent + b.Exponent + 1;
        if ((high >> 127) == UInt128.Zero)
        {
            high = high << 1 | (below >> 63);
            exponent--;
        }
        return new WideFloat(a.Sign ^ b.Sign, exponent, high);
    }

    public static WideFloat operator /(WideFloat a, WideFloat b)
    {
        if (a.IsZero) return Zero;
        if (b.IsZero) throw new DivideByZeroException();
        // Restoring division, one quotient bit at a time: 128 bits, the first one set (if a's
        // significand is below b's, it is doubled first and the exponent drops by one).
        UInt128 divisor = b.Significand, remainder = a.Significand, quotient = UInt128.Zero;
        int exponent = a.Exponent - b.Exponent;
        bool carry = false;
        if (remainder < divisor)
        {
            exponent--;
            carry = true; // the top bit, shifted out
            remainder <<= 1;
        }
        for (int i = 0; i < 128; i++)
        {
            bool bit = carry || remainder >= divisor;
            if (bit) remainder -= divisor;
            quotient = quotient << 1 | (bit ? UInt128.One : UInt128.Zero);
            carry = (remainder >> 127) != UInt128.Zero;
            remainder <<= 1;
        }
        return new WideFloat(a.Sign ^ b.Sign, exponent, quotient);
    }

    public static WideFloat operator +(WideFloat a, WideFloat b)
    {
        if (a.IsZero) return b;
        if (b.IsZero) return a;
        if (a.Exponent < b.Exponent || a.Exponent == b.Exponent && a.Significand < b.Significand) (a, b) = (b, a);
        int shift = a.Exponent - b.Exponent;
        // One bit of headroom for the carry.
        UInt128 x = a.Significand >> 1, y = shift + 1 >= 128 ? UInt128.Zero : b.Significand >> (shift + 1);
        if (a.Sign == b.Sign) return Normalize(a.Sign, a.Exponent + 1, x + y);
        return Normalize(a.Sign, a.Exponent + 1, x - y);
    }

    public static WideFloat operator -(WideFloat a, WideFloat b) => a + b.Negate();

    public static WideFloat operator -(WideFloat a) => a.Negate();

    /// <summary>This × 2^<paramref name="n"/>.</summary>
    public WideFloat Scale(int n) => IsZero ? this : this with { Exponent = Exponent + n };

    /// <summary>The nearest integer (ties away from zero), for values below 2^126.</summary>
    public long NearestInteger()
    {
        if (IsZero || Exponent < -1) return 0;
        // The integer part and the half bit.
        UInt128 scaled = Significand >> (126 - Exponent);
        long n = (long)(ulong)((scaled + 1) >> 1);
        return Sign ? -n : n;
    }

    /// <summary>Whether |this| &lt; |other|.</summary>
    public bool MagnitudeBelow(WideFloat other) =>
        IsZero ? !other.IsZero : !other.IsZero && (Exponent < other.Exponent || Exponent == other.Exponent && Significand < other.Significand);
}
