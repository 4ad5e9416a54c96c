using System.Numerics;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

internal static partial class Float80Arithmetic
{
    /// <summary>A signed integer as a double extended-precision value: always exact (FILD).</summary>
    public static Float80 FromInteger(long value)
    {
        if (value == 0) return Float80.Zero(false);
        bool sign = value < 0;
        return FromMagnitude(sign, sign ? (ulong)-value : (ulong)value);
    }

    /// <summary>sign × <paramref name="magnitude"/>, exactly (a zero keeps its sign).</summary>
    public static Float80 FromMagnitude(bool sign, ulong magnitude)
    {
        if (magnitude == 0) return Float80.Zero(sign);
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return new Float80(sign, 63 - lz + Float80.Bias, magnitude << lz);
    }

    /// <summary>
    /// Rounds to an integer of <paramref name="bits"/> bits (16, 32, 64) under the context's
    /// rounding mode (FIST, FISTP), or toward zero with <paramref name="truncate"/>. A NaN, an
    /// infinity, an unsupported operand or a value out of range is invalid: the masked response
    /// is the integer indefinite (only the sign bit set).
    /// </summary>
    public static long ToInteger(ref FloatContext ctx, Float80 a, int bits, bool truncate = false)
    {
        long indefinite = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        if (a.IsUnsupported || a.IsNaN || a.IsInfinity)
        {
            ctx.Raise(X87Exceptions.Invalid);
            return indefinite;
        }
        // A denormal operand raises no #D here (as the host x87 does): it is just inexact.
        if (a.IsZero) return 0;
        var mode = truncate ? RoundingMode.TowardZero : ctx.Rounding;
        if (!RoundToIntegerMagnitude(a, mode, out UInt128 magnitude, out bool inexact, out bool up)
            || magnitude > (a.Sign ? (UInt128.One << (bits - 1)) : (UInt128.One << (bits - 1)) - 1))
        {
            ctx.Raise(X87Exceptions.Invalid);
            return indefinite;
        }
        if (inexact) Inexact(ref ctx, up);
        return a.Sign ? (long)(0 - (ulong)magnitude) : (long)(ulong)magnitude;
    }

    /// <summary>
    /// |a| rounded to an integer under <paramref name="mode"/> (the sign of a decides the
    /// directed modes). False when it does not fit in 64 bits.
    /// </summary>
    public static bool RoundToIntegerMagnitude(Float80 a, RoundingMode mode, out UInt128 magnitude, out bool inexact, out bool up)
    {
        int exp = Unpack(a, out ulong sig);
        up = false;
        inexact = false;
        magnitude = UInt128.Zero;
        if (exp > 63) return false;
        if (exp < -1)
        {
            // Below one half: zero, or one in the direction the mode rounds away from zero.
            inexact = true;
            up = mode == RoundingMode.Up && !a.Sign || mode == RoundingMode.Down && a.Sign;
            magnitude = up ? UInt128.One : UInt128.Zero;
            return true;
        }
        int drop = 63 - exp;
        if (drop == 0)
        {
            magnitude = sig;
            return true;
        }
        UInt128 r = RoundAt(sig, drop, a.Sign, mode, out inexact, out up);
        magnitude = r >> drop;
        return true;
    }

    /// <summary>A single-precision value, widened exactly (FLD m32, FADD m32, ...). A signaling NaN is invalid and quieted; a denormal raises the denormal exception.</summary>
    public static Float80 FromSingle(ref FloatContext ctx, uint bits, bool quiet = true) => FromBinary(ref ctx, bits, exponentBits: 8, fractionBits: 23, quiet);

    /// <summary>A double-precision value, widened exactly.</summary>
    public static Float80 FromDouble(ref FloatContext ctx, ulong bits, bool quiet = true) => FromBinary(ref ctx, bits, exponentBits: 11, fractionBits: 52, quiet);

    /// <summary>Widens a binary32/64 value; <paramref name="quiet"/> false leaves a signaling NaN signaling (for the operation it is an operand of).</summary>
    private static Float80 FromBinary(ref FloatContext ctx, ulong bits, int exponentBits, int fractionBits, bool quiet)
    {
        bool sign = (bits >> (exponentBits + fractionBits)) != 0;
        int maxExponent = (1 << exponentBits) - 1, bias = maxExponent >> 1;
        int exp = (int)(bits >> fractionBits) & maxExponent;
        ulong fraction = bits & ((1UL << fractionBits) - 1);
        // The fraction aligned below J.
        ulong aligned = fraction << (63 - fractionBits);
        if (exp == maxExponent)
        {
            if (fraction == 0) return Float80.Infinity(sign);
            var nan = new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | aligned);
            if (nan.IsSignalingNaN) ctx.Raise(X87Exceptions.Invalid);
            return quiet ? nan.Quieted() : nan;
        }
        if (exp == 0)
        {
            if (fraction == 0) return Float80.Zero(sign);
            ctx.Raise(X87Exceptions.Denormal);
            int lz = BitOperations.LeadingZeroCount(aligned);
            return new Float80(sign, 1 - bias - lz + Float80.Bias, aligned << lz);
        }
        return new Float80(sign, exp - bias + Float80.Bias, Float80.IntegerBit | aligned);
    }

    /// <summary>
    /// Narrows to single precision under the context's rounding mode (FST m32): a memory
    /// destination, so an unmasked overflow or underflow leaves the result unused.
    /// </summary>
    public static uint ToSingle(ref FloatContext ctx, Float80 a) => (uint)ToBinary(ref ctx, a, exponentBits: 8, fractionBits: 23);

    /// <summary>Narrows to double precision (FST m64).</summary>
    public static ulong ToDouble(ref FloatContext ctx, Float80 a) => ToBinary(ref ctx, a, exponentBits: 11, fractionBits: 52);

    private static ulong ToBinary(ref FloatContext ctx, Float80 a, int exponentBits, int fractionBits)
    {
        int maxExponent = (1 << exponentBits) - 1, bias = maxExponent >> 1;
        ulong signBit = a.Sign ? 1UL << (exponentBits + fractionBits) : 0;
        ulong infinity = (ulong)maxExponent << fractionBits;
        ulong quietBit = 1UL << (fractionBits - 1);
        if (a.IsUnsupported)
        {
            ctx.Raise(X87Exceptions.Invalid);
            return (1UL << (exponentBits + fractionBits)) | infinity | quietBit;
        }
        if (a.IsNaN)
        {
            if (a.IsSignalingNaN) ctx.Raise(X87Exceptions.Invalid);
            // The top of the fraction is kept, quieted.
            return signBit | infinity | quietBit | ((a.Significand << 1) >> (64 - fractionBits));
        }
        if (a.IsInfinity) return signBit | infinity;
        if (a.IsZero) return signBit;
        int exp = Unpack(a, out ulong sig);
        var r = Round(ref ctx, a.Sign, exp, (UInt128)sig << 64, fractionBits + 1, 1 - bias, bias, registerDestination: false);
        if (r.IsInfinity) return signBit | infinity;
        ulong fraction = (r.Significand >> (63 - fractionBits)) & ((1UL << fractionBits) - 1);
        if ((r.Significand & Float80.IntegerBit) == 0) return signBit | fraction;
        return signBit | ((ulong)(r.Exponent + bias) << fractionBits) | fraction;
    }

    /// <summary>
    /// An 18-digit packed BCD integer (FBLD): nine bytes of two digits each, lowest first, and a
    /// sign byte. Exact. Digits above 9 are undefined on the x87; they count as their value here.
    /// </summary>
    public static Float80 FromBcd(ReadOnlySpan<byte> bcd)
    {
        ulong value = 0;
        for (int i = 8; i >= 0; i--) value = value * 100 + (ulong)(bcd[i] >> 4) * 10 + (ulong)(bcd[i] & 0xF);
        return FromMagnitude((bcd[9] & 0x80) != 0, value);
    }

    /// <summary>
    /// Rounds to an integer under the context's rounding mode and writes it as packed BCD
    /// (FBSTP). Beyond 18 digits, or for a NaN, infinity or unsupported operand: invalid, and
    /// the masked response is the BCD indefinite (FFFF C000 0000 0000 0000).
    /// </summary>
    public static void ToBcd(ref FloatContext ctx, Float80 a, Span<byte> bcd)
    {
        bcd[..10].Clear();
        const ulong limit = 999_999_999_999_999_999;
        bool valid = !(a.IsUnsupported || a.IsNaN || a.IsInfinity);
        UInt128 magnitude = UInt128.Zero;
        bool inexact = false, up = false;
        if (valid)
        {
            if (!a.IsZero) valid = RoundToIntegerMagnitude(a, ctx.Rounding, out magnitude, out inexact, out up) && magnitude <= limit;
        }
        if (!valid)
        {
            ctx.Raise(X87Exceptions.Invalid);
            bcd[7] = 0xC0;
            bcd[8] = bcd[9] = 0xFF;
            return;
        }
        if (inexact) Inexact(ref ctx, up);
        ulong v = (ulong)magnitude;
        for (int i = 0; i < 9; i++)
        {
            bcd[i] = (byte)(v % 10 | (v / 10 % 10) << 4);
            v /= 100;
        }
        if (a.Sign) bcd[9] = 0x80;
    }
}
