using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// What an SSE arithmetic operation does with operands that are not two finite nonzero
/// numbers, in the SDM's priority order (vol. 3A, table 6-8; vol. 1, table 11-1): DAZ first, then
/// NaNs (#I for an SNaN; the result is the first NaN operand, quieted), invalid operations
/// (#I, the QNaN indefinite), division by zero (#Z), and only then #D for a denormal operand.
/// A method returns true with the result when it decided it; false leaves two finite nonzero
/// operands (denormals already flagged) for the computation.
/// </summary>
internal static class FloatOperands<F> where F : struct, IFloatFormat
{
    /// <summary>A denormal read as a zero of its sign under DAZ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ApplyDaz(ulong v, in FloatStatus status) =>
        status.DenormalsAreZeros && FloatBits<F>.IsDenormal(v) ? v & FloatBits<F>.Sign : v;

    /// <summary>The NaN rule of two-operand SSE operations: an SNaN raises #I; the result is the first operand if it is a NaN, else the second, quieted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PropagateNaN(ulong a, ulong b, ref FloatStatus status, out ulong result)
    {
        bool na = FloatBits<F>.IsNaN(a), nb = FloatBits<F>.IsNaN(b);
        if (!(na || nb))
        {
            result = 0;
            return false;
        }
        if (FloatBits<F>.IsSignalingNaN(a) || FloatBits<F>.IsSignalingNaN(b)) status.Flags |= MxcsrBits.Ie;
        result = FloatBits<F>.Quiet(na ? a : b);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FlagDenormals(ulong a, ulong b, ref FloatStatus status)
    {
        if (FloatBits<F>.IsDenormal(a) || FloatBits<F>.IsDenormal(b)) status.Flags |= MxcsrBits.De;
    }

    private static ulong Invalid(ref FloatStatus status)
    {
        status.Flags |= MxcsrBits.Ie;
        return FloatBits<F>.DefaultNaN;
    }

    /// <summary>a + b, or a − b with <paramref name="subtract"/> (b's sign flips after the NaN check: a NaN keeps its sign).</summary>
    public static bool AddSpecial(ref ulong a, ref ulong b, bool subtract, ref FloatStatus status, out ulong result)
    {
        a = ApplyDaz(a, status);
        b = ApplyDaz(b, status);
        if (PropagateNaN(a, b, ref status, out result)) return true;
        if (subtract) b ^= FloatBits<F>.Sign;
        bool ia = FloatBits<F>.IsInfinity(a), ib = FloatBits<F>.IsInfinity(b);
        if (ia || ib)
        {
            if (ia && ib && ((a ^ b) & FloatBits<F>.Sign) != 0)
            {
                result = Invalid(ref status);
                return true;
            }
            FlagDenormals(a, b, ref status);
            result = ia ? a : b;
            return true;
        }
        FlagDenormals(a, b, ref status);
        bool za = FloatBits<F>.IsZero(a), zb = FloatBits<F>.IsZero(b);
        if (za && zb)
        {
            result = a == b ? a : SoftFloat<F>.ExactZeroSum(ref status);
            return true;
        }
        if (za || zb)
        {
            // x + 0 is x, but a denormal x is a tiny result: FTZ flushes it.
            result = Representable(za ? b : a, ref status);
            return true;
        }
        return false;
    }

    /// <summary>a · b.</summary>
    public static bool MultiplySpecial(ref ulong a, ref ulong b, ref FloatStatus status, out ulong result)
    {
        a = ApplyDaz(a, status);
        b = ApplyDaz(b, status);
        if (PropagateNaN(a, b, ref status, out result)) return true;
        ulong sign = (a ^ b) & FloatBits<F>.Sign;
        bool ia = FloatBits<F>.IsInfinity(a), ib = FloatBits<F>.IsInfinity(b);
        bool za = FloatBits<F>.IsZero(a), zb = FloatBits<F>.IsZero(b);
        if ((ia && zb) || (ib && za))
        {
            result = Invalid(ref status);
            return true;
        }
        if (ia || ib || za || zb)
        {
            FlagDenormals(a, b, ref status);
            result = sign | (ia || ib ? FloatBits<F>.Infinity : 0);
            return true;
        }
        FlagDenormals(a, b, ref status);
        return false;
    }

    /// <summary>a / b.</summary>
    public static bool DivideSpecial(ref ulong a, ref ulong b, ref FloatStatus status, out ulong result)
    {
        a = ApplyDaz(a, status);
        b = ApplyDaz(b, status);
        if (PropagateNaN(a, b, ref status, out result)) return true;
        ulong sign = (a ^ b) & FloatBits<F>.Sign;
        bool ia = FloatBits<F>.IsInfinity(a), ib = FloatBits<F>.IsInfinity(b);
        bool za = FloatBits<F>.IsZero(a), zb = FloatBits<F>.IsZero(b);
        if ((ia && ib) || (za && zb))
        {
            result = Invalid(ref status);
            return true;
        }
        if (zb && !ia)
        {
            // Division by zero outranks the denormal operand exception.
            status.Flags |= MxcsrBits.Ze;
            result = sign | FloatBits<F>.Infinity;
            return true;
        }
        FlagDenormals(a, b, ref status);
        if (ia || zb)
        {
            result = sign | FloatBits<F>.Infinity;
            return true;
        }
        if (ib || za)
        {
            result = sign;
            return true;
        }
        return false;
    }

    /// <summary>√a.</summary>
    public static bool SquareRootSpecial(ref ulong a, ref FloatStatus status, out ulong result)
    {
        a = ApplyDaz(a, status);
        if (FloatBits<F>.IsNaN(a))
        {
            if (FloatBits<F>.IsSignalingNaN(a)) status.Flags |= MxcsrBits.Ie;
            result = FloatBits<F>.Quiet(a);
            return true;
        }
        if (FloatBits<F>.IsZero(a))
        {
            result = a;
            return true;
        }
        if (FloatBits<F>.IsNegative(a))
        {
            result = Invalid(ref status);
            return true;
        }
        FlagDenormals(a, 0, ref status);
        result = a;
        return FloatBits<F>.IsInfinity(a);
    }

    /// <summary>A finite nonzero value that needs no rounding, as a result: only a tiny one changes (underflow, FTZ).</summary>
    public static ulong Representable(ulong v, ref FloatStatus status)
    {
        if (!FloatBits<F>.IsDenormal(v)) return v;
        SoftFloat<F>.Unpack(v, out bool negative, out int exponent, out ulong significand);
        return SoftFloat<F>.RoundPack(negative, exponent, significand, ref status);
    }
}
