using System.Numerics;
using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// IEEE 754 arithmetic on <see cref="Float80"/> as a P6-class x87 does it: every operation
/// computes the exact result (or enough of it: the significand and a sticky bit) and rounds it
/// once, under the context's rounding mode and precision, raising the exceptions the SDM names
/// (vol. 1, 4.9 and 8.5), with the x87's NaN rules and its responses to unmasked overflow and
/// underflow on register destinations (a result whose exponent is biased by 24576).
/// </summary>
/// <remarks>
/// Intermediate values are <c>(sign, exponent, UInt128 significand)</c> meaning
/// significand × 2^(exponent − 127), the exponent unbiased: bit 127 of the significand has the
/// weight 2^exponent. That leaves at least 64 bits below the 64-bit significand of the result
/// for rounding and the sticky bit.
/// </remarks>
internal static partial class Float80Arithmetic
{
    /// <summary>The normal exponents of the double extended-precision format, unbiased.</summary>
    public const int ExtendedMinExponent = 1 - Float80.Bias, ExtendedMaxExponent = Float80.Bias;

    /// <summary>The exponent adjustment of a result whose overflow or underflow trap is unmasked (SDM vol. 1, 8.5.4/8.5.5).</summary>
    public const int TrapBias = 24576;

    /// <summary>
    /// A rounded finite result: the significand with the integer bit at bit 63 (clear for a
    /// denormal or zero) and the unbiased exponent of bit 63 (the format's minimum exponent for a
    /// denormal), or an infinity (<see cref="IsInfinity"/>).
    /// </summary>
    public readonly record struct Rounded(bool Sign, int Exponent, ulong Significand, bool IsInfinity);

    /// <summary>
    /// Splits a finite non-zero operand into unbiased exponent and a significand with J at bit
    /// 63 (denormals normalised).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Unpack(Float80 a, out ulong significand) => a.NormalizedExponent(out significand) - Float80.Bias;

    /// <summary>
    /// Rounds sign × <paramref name="significand"/> × 2^(<paramref name="exponent"/> − 127) to a
    /// double extended-precision register value under the context (its precision control, its
    /// masks: a register destination gets the biased result when overflow or underflow is
    /// unmasked).
    /// </summary>
    public static Float80 RoundToRegister(ref FloatContext ctx, bool sign, int exponent, UInt128 significand) =>
        Pack(Round(ref ctx, sign, exponent, significand, ctx.Precision, ExtendedMinExponent, ExtendedMaxExponent, registerDestination: true));

    /// <summary>A rounded value in the double extended-precision encoding.</summary>
    public static Float80 Pack(Rounded r)
    {
        if (r.IsInfinity) return Float80.Infinity(r.Sign);
        if (r.Significand == 0) return Float80.Zero(r.Sign);
        if ((r.Significand & Float80.IntegerBit) == 0) return new Float80(r.Sign, 0, r.Significand);
        return new Float80(r.Sign, r.Exponent + Float80.Bias, r.Significand);
    }

    /// <summary>
    /// Rounds sign × <paramref name="significand"/> × 2^(<paramref name="exponent"/> − 127) to
    /// <paramref name="precision"/> significant bits in a format whose normal numbers have the
    /// unbiased exponents <paramref name="minExponent"/>..<paramref name="maxExponent"/>.
    /// Raises precision, overflow and underflow and sets the round-up bit. Tininess is judged
    /// after rounding with an unbounded exponent (SDM vol. 1, 4.9.1.5). A
    /// <paramref name="registerDestination"/> with the overflow or underflow exception unmasked
    /// gets the result with its exponent adjusted by <see cref="TrapBias"/> (a memory destination
    /// then gets nothing: the caller stores nothing).
    /// </summary>
    public static Rounded Round(ref FloatContext ctx, bool sign, int exponent, UInt128 significand, int precision,
        int minExponent, int maxExponent, bool registerDestination)
    {
        if (significand == UInt128.Zero) return new Rounded(sign, minExponent, 0, false);
        int lz = LeadingZeros(significand);
        significand <<= lz;
        exponent -= lz;
        int drop = 128 - precision;

        UInt128 rounded = RoundAt(significand, drop, sign, ctx.Rounding, out bool inexact, out bool up);
        int roundedExponent = exponent;
        if (rounded == UInt128.Zero)
        {
            // The increment carried out of bit 127: the significand is 1.000...
            rounded = UInt128.One << 127;
            roundedExponent++;
        }

        if (roundedExponent > maxExponent)
        {
            bool trap = !ctx.IsMasked(X87Exceptions.Overflow);
            ctx.Raise(X87Exceptions.Overflow);
            if (trap)
            {
                // A memory destination is left alone: the overflow is all that is reported.
                if (!registerDestination) return new Rounded(sign, maxExponent, 0, true);
                if (inexact) Inexact(ref ctx, up);
                int biased = roundedExponent - TrapBias;
                // Massive overflow (FSCALE) still too large after the bias: a signed infinity, rounded up.
                if (biased > maxExponent)
                {
                    Inexact(ref ctx, true);
                    return new Rounded(sign, maxExponent + 1, Float80.IntegerBit, true);
                }
                return new Rounded(sign, biased, (ulong)(rounded >> 64), false);
            }
            // Masked: infinity, or the largest finite number where the rounding mode points toward zero.
            bool toInfinity = ctx.Rounding switch
            {
                RoundingMode.Nearest => true,
                RoundingMode.Up => !sign,
                RoundingMode.Down => sign,
                _ => false,
            };
            Inexact(ref ctx, toInfinity);
            if (toInfinity) return new Rounded(sign, maxExponent + 1, Float80.IntegerBit, true);
            return new Rounded(sign, maxExponent, ~0UL << (64 - precision), false);
        }

        if (exponent >= minExponent)
        {
            if (inexact) Inexact(ref ctx, up);
            return new Rounded(sign, roundedExponent, (ulong)(rounded >> 64), false);
        }

        bool tiny = roundedExponent < minExponent;
        bool underflowTrap = !ctx.IsMasked(X87Exceptions.Underflow);
        if (underflowTrap && registerDestination)
        {
            if (tiny) ctx.Raise(X87Exceptions.Underflow);
            if (inexact) Inexact(ref ctx, up);
            if (!tiny) return new Rounded(sign, roundedExponent, (ulong)(rounded >> 64), false);
            int biased = roundedExponent + TrapBias;
            // Massive underflow (FSCALE) still too small after the bias: a signed zero, inexact.
            if (biased < minExponent)
            {
                Inexact(ref ctx, false);
                return new Rounded(sign, minExponent, 0, false);
            }
            return new Rounded(sign, biased, (ulong)(rounded >> 64), false);
        }

        if (underflowTrap && tiny)
        {
            // A memory destination is left alone: the underflow is all that is reported.
            ctx.Raise(X87Exceptions.Underflow);
            return new Rounded(sign, minExponent, 0, false);
        }

        // The denormal: shifted to the minimum exponent, then rounded at the same bit position.
        UInt128 shifted = ShiftRightJam(significand, minExponent - exponent);
        UInt128 denormal = RoundAt(shifted, drop, sign, ctx.Rounding, out bool denormalInexact, out bool denormalUp);
        if (tiny && denormalInexact) ctx.Raise(X87Exceptions.Underflow);
        if (denormalInexact) Inexact(ref ctx, denormalUp);
        return new Rounded(sign, minExponent, (ulong)(denormal >> 64), false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Inexact(ref FloatContext ctx, bool up)
    {
        ctx.Raised |= X87Exceptions.Precision;
        ctx.RoundedUp = up;
    }

    /// <summary>
    /// Rounds <paramref name="v"/> to a multiple of 2^<paramref name="drop"/> (1..127) under
    /// <paramref name="mode"/>. Returns zero when the increment carried out of bit 127.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 RoundAt(UInt128 v, int drop, bool sign, RoundingMode mode, out bool inexact, out bool up)
    {
        UInt128 unit = UInt128.One << drop;
        UInt128 mask = unit - 1;
        UInt128 rest = v & mask;
        UInt128 r = v & ~mask;
        up = false;
        inexact = rest != UInt128.Zero;
        if (!inexact) return r;
        UInt128 half = unit >> 1;
        bool increment = mode switch
        {
            RoundingMode.Nearest => rest > half || rest == half && (v & unit) != UInt128.Zero,
            RoundingMode.Down => sign,
            RoundingMode.Up => !sign,
            _ => false,
        };
        if (!increment) return r;
        up = true;
        return r + unit;
    }

    /// <summary>Shifts right by <paramref name="n"/>, OR-ing every bit shifted out into bit 0 (the sticky bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 ShiftRightJam(UInt128 v, int n)
    {
        if (n <= 0) return v;
        if (n >= 128) return v != UInt128.Zero ? UInt128.One : UInt128.Zero;
        UInt128 r = v >> n;
        return (v << (128 - n)) != UInt128.Zero ? r | UInt128.One : r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LeadingZeros(UInt128 v)
    {
        ulong hi = (ulong)(v >> 64);
        return hi != 0 ? BitOperations.LeadingZeroCount(hi) : 64 + BitOperations.LeadingZeroCount((ulong)v);
    }
}
