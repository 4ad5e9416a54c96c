using System.Numerics;
using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// IEEE 754 arithmetic on the integers of format <typeparamref name="F"/>, exact in every
/// rounding mode and for every operand: the slow path of <see cref="SingleArithmetic"/> and
/// <see cref="DoubleArithmetic"/>, taken where the host's round-to-nearest arithmetic cannot
/// give the result and its flags directly (denormal operands and results, overflow, values next
/// to those thresholds). The operations take finite nonzero operands; zeros, infinities and
/// NaNs are the caller's.
/// </summary>
/// <remarks>
/// A finite nonzero value is held unpacked as (sign, exponent, significand): the value is
/// significand · 2^(exponent − 63) with bit 63 of the significand set, so the exponent is the
/// one of its leading bit. Results carry every bit below the rounding point that matters: bits
/// shifted out are ORed into bit 0 (a sticky bit), which is all rounding needs to know of them.
/// Tininess is detected after rounding, as x86 processors do (a result that rounds up to the
/// smallest normal number is not tiny).
/// </remarks>
internal static class SoftFloat<F> where F : struct, IFloatFormat
{
    private static int Precision => FloatBits<F>.Precision;
    private static int MinExponent => FloatBits<F>.MinExponent;

    /// <summary>Unpacks a finite nonzero bit pattern (normal or denormal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(ulong bits, out bool negative, out int exponent, out ulong significand)
    {
        negative = (bits & FloatBits<F>.Sign) != 0;
        int field = (int)(FloatBits<F>.Magnitude(bits) >> F.FractionBits);
        ulong fraction = bits & FloatBits<F>.FractionMask;
        if (field != 0)
        {
            exponent = field - FloatBits<F>.Bias;
            significand = (fraction | (FloatBits<F>.FractionMask + 1)) << (63 - F.FractionBits);
            return;
        }
        int lz = BitOperations.LeadingZeroCount(fraction);
        exponent = MinExponent - F.FractionBits + (63 - lz);
        significand = fraction << lz;
    }

    /// <summary>Shifts right, ORing whatever falls off into bit 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ShiftRightJam(ulong v, int count)
    {
        if (count == 0) return v;
        if (count >= 64) return v != 0 ? 1UL : 0;
        return (v >> count) | ((v << (64 - count)) != 0 ? 1UL : 0);
    }

    /// <summary>Whether rounding away the low bits <paramref name="rest"/> (of which <paramref name="half"/> is the weight of one half unit) increments the kept magnitude.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RoundsUp(Rounding rounding, bool negative, bool keptOdd, ulong rest, ulong half) => rounding switch
    {
        Rounding.NearestEven => rest > half || (rest == half && keptOdd),
        Rounding.Down => negative && rest != 0,
        Rounding.Up => !negative && rest != 0,
        _ => false,
    };

    /// <summary>
    /// Rounds significand · 2^(exponent − 63) (bit 63 set, low bits sticky) to the format under
    /// the status's rounding mode, with overflow, underflow (tininess after rounding), FTZ and
    /// precision detection, and returns the bit pattern.
    /// </summary>
    public static ulong RoundPack(bool negative, int exponent, ulong significand, ref FloatStatus status)
    {
        int drop = 64 - Precision;
        ulong half = 1UL << (drop - 1), restMask = (1UL << drop) - 1;
        ulong sign = FloatBits<F>.Zero(negative);
        if (exponent >= MinExponent)
        {
            ulong kept = significand >> drop, rest = significand & restMask;
            if (RoundsUp(status.Rounding, negative, (kept & 1) != 0, rest, half))
            {
                kept++;
                if (kept >> Precision != 0)
                {
                    kept >>= 1;
                    exponent++;
                }
            }
            if (exponent > FloatBits<F>.MaxExponent)
            {
                if (status.OverflowMasked) return Overflow(negative, ref status);
                // Unmasked, the instruction ends in #XM: #P says whether the result rounded with an
                // unbounded exponent (what a handler would scale back) is inexact.
                status.Flags |= MxcsrBits.Oe | (rest != 0 ? MxcsrBits.Pe : 0);
                return Overflow(negative, ref status);
            }
            if (rest != 0) status.Flags |= MxcsrBits.Pe;
            return sign | ((ulong)(exponent + FloatBits<F>.Bias) << F.FractionBits) | (kept & FloatBits<F>.FractionMask);
        }

        // Below the normal range. Tiny unless rounding to full precision with an unbounded
        // exponent carries it up to the smallest normal number.
        bool tiny = true;
        if (exponent == MinExponent - 1)
        {
            ulong kept = significand >> drop;
            if (RoundsUp(status.Rounding, negative, (kept & 1) != 0, significand & restMask, half) && (kept + 1) >> Precision != 0)
                tiny = false;
        }
        ulong denormal = ShiftRightJam(significand, MinExponent - exponent);
        ulong dKept = denormal >> drop, dRest = denormal & restMask;
        bool inexact = dRest != 0;
        if (tiny && status.FlushToZero)
        {
            status.Flags |= MxcsrBits.Ue | MxcsrBits.Pe;
            return sign;
        }
        if (tiny && !status.UnderflowMasked)
        {
            // Unmasked, a tiny result ends in #XM whether exact or not; #P is about the result
            // rounded with an unbounded exponent, as for an unmasked overflow.
            status.Flags |= MxcsrBits.Ue | ((significand & restMask) != 0 ? MxcsrBits.Pe : 0);
            return sign;
        }
        if (RoundsUp(status.Rounding, negative, (dKept & 1) != 0, dRest, half)) dKept++;
        if (inexact) status.Flags |= MxcsrBits.Pe | (tiny ? MxcsrBits.Ue : 0);
        // A carry into bit FractionBits makes the smallest normal number, which packs the same way.
        return sign | dKept;
    }

    /// <summary>The result of a masked overflow (#O and #P): infinity or the largest finite number, by rounding direction and sign.</summary>
    public static ulong Overflow(bool negative, ref FloatStatus status)
    {
        if (status.OverflowMasked) status.Flags |= MxcsrBits.Oe | MxcsrBits.Pe;
        bool toInfinity = status.Rounding switch
        {
            Rounding.NearestEven => true,
            Rounding.Down => negative,
            Rounding.Up => !negative,
            _ => false,
        };
        return FloatBits<F>.Zero(negative) | (toInfinity ? FloatBits<F>.Infinity : FloatBits<F>.MaxFinite);
    }

    /// <summary>The sign of an exact zero sum of operands of opposite signs: −0 only when rounding down (IEEE 754, 6.3).</summary>
    public static ulong ExactZeroSum(ref FloatStatus status) => FloatBits<F>.Zero(status.Rounding == Rounding.Down);

    /// <summary>a + b for finite nonzero a and b.</summary>
    public static ulong Add(ulong a, ulong b, ref FloatStatus status)
    {
        Unpack(a, out bool sa, out int ea, out ulong ma);
        Unpack(b, out bool sb, out int eb, out ulong mb);
        if (ea < eb || (ea == eb && ma < mb))
        {
            (sa, sb) = (sb, sa);
            (ea, eb) = (eb, ea);
            (ma, mb) = (mb, ma);
        }
        // One bit of headroom for a carry; the smaller operand is aligned with a sticky bit.
        ma >>= 1;
        mb = ShiftRightJam(mb >> 1, ea - eb);
        ulong r;
        if (sa == sb) r = ma + mb;
        else
        {
            r = ma - mb;
            if (r == 0) return ExactZeroSum(ref status);
        }
        int lz = BitOperations.LeadingZeroCount(r);
        return RoundPack(sa, ea + 1 - lz, r << lz, ref status);
    }

    /// <summary>a · b for finite nonzero a and b.</summary>
    public static ulong Multiply(ulong a, ulong b, ref FloatStatus status)
    {
        Unpack(a, out bool sa, out int ea, out ulong ma);
        Unpack(b, out bool sb, out int eb, out ulong mb);
        ulong hi = Math.BigMul(ma, mb, out ulong lo);
        int exponent = ea + eb + 1;
        if ((hi >> 63) == 0)
        {
            hi = (hi << 1) | (lo >> 63);
            lo <<= 1;
            exponent--;
        }
        return RoundPack(sa != sb, exponent, hi | (lo != 0 ? 1UL : 0), ref status);
    }

    /// <summary>a / b for finite nonzero a and b.</summary>
    public static ulong Divide(ulong a, ulong b, ref FloatStatus status)
    {
        Unpack(a, out bool sa, out int ea, out ulong ma);
        Unpack(b, out bool sb, out int eb, out ulong mb);
        // ma/mb is in (1/2, 2): the quotient of ma·2^63 has 63 or 64 bits.
        UInt128 n = (UInt128)ma << 63;
        ulong q = (ulong)(n / mb);
        bool sticky = n - (UInt128)q * mb != 0;
        int exponent = ea - eb;
        if ((q >> 63) == 0)
        {
            q <<= 1;
            exponent--;
        }
        return RoundPack(sa != sb, exponent, q | (sticky ? 1UL : 0), ref status);
    }

    /// <summary>√a for finite positive a.</summary>
    public static ulong SquareRoot(ulong a, ref FloatStatus status)
    {
        Unpack(a, out _, out int ea, out ulong ma);
        // a = ma · 2^(ea − 63) = N · 2^(ea − 63 − k) with an even exponent; √N has 64 bits.
        int k = ((ea - 63) & 1) == 0 ? 64 : 63;
        UInt128 n = (UInt128)ma << k;
        ulong r = IntegerSquareRoot(n);
        bool sticky = (UInt128)r * r != n;
        return RoundPack(false, 63 + (ea - 63 - k) / 2, r | (sticky ? 1UL : 0), ref status);
    }

    // ⌊√n⌋ for n in [2^126, 2^128): a double estimate, one Newton step, then exact correction.
    private static ulong IntegerSquareRoot(UInt128 n)
    {
        double estimate = Math.Sqrt((double)n);
        ulong r = estimate >= 18446744073709551615.0 ? ulong.MaxValue : (ulong)estimate;
        r = (ulong)(((UInt128)r + n / r) >> 1);
        while ((UInt128)r * r > n) r--;
        while (r != ulong.MaxValue && (UInt128)(r + 1) * (r + 1) <= n) r++;
        return r;
    }

    /// <summary>A nonzero integer magnitude with a sign, rounded to the format.</summary>
    public static ulong FromInteger(bool negative, ulong magnitude, ref FloatStatus status)
    {
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return RoundPack(negative, 63 - lz, magnitude << lz, ref status);
    }

    /// <summary>
    /// Rounds a finite nonzero value to a signed integer of <paramref name="bits"/> bits (32 or
    /// 64). Out of range: the integer indefinite (only the sign bit set) and #I; else #P when inexact.
    /// </summary>
    public static ulong ToInteger(ulong value, int bits, Rounding rounding, ref FloatStatus status)
    {
        Unpack(value, out bool negative, out int exponent, out ulong significand);
        ulong indefinite = 1UL << (bits - 1);
        if (exponent >= 63)
        {
            // Only −2^63 fits, and only in 64 bits.
            if (bits == 64 && negative && exponent == 63 && significand == 1UL << 63) return indefinite;
            status.Flags |= MxcsrBits.Ie;
            return indefinite;
        }
        ulong whole, rest;
        if (exponent >= 0)
        {
            whole = significand >> (63 - exponent);
            rest = significand << (exponent + 1);
        }
        else
        {
            whole = 0;
            // −1: the fraction is the significand itself (at least one half); below, less than a half.
            rest = exponent == -1 ? significand : ShiftRightJam(significand, -1 - exponent) | 1;
        }
        if (RoundsUp(rounding, negative, (whole & 1) != 0, rest, 1UL << 63)) whole++;
        if (whole > (negative ? indefinite : indefinite - 1))
        {
            status.Flags |= MxcsrBits.Ie;
            return indefinite;
        }
        if (rest != 0) status.Flags |= MxcsrBits.Pe;
        ulong result = negative ? 0 - whole : whole;
        return bits == 64 ? result : (uint)result;
    }
}
