namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// The SSE conversions between single, double and signed integers (CVTSS2SD, CVTSD2SS, CVTSI2SS,
/// CVTSI2SD, CVT(T)SS2SI, CVT(T)SD2SI and their packed forms), element by element.
/// </summary>
internal static class FloatConversion
{
    /// <summary>Single to double: exact; an SNaN raises #I, a denormal #D; a NaN keeps its payload.</summary>
    public static ulong SingleToDouble(uint a, ref FloatStatus status)
    {
        ulong x = FloatOperands<Binary32>.ApplyDaz(a, status);
        if (FloatBits<Binary32>.IsNaN(x))
        {
            if (FloatBits<Binary32>.IsSignalingNaN(x)) status.Flags |= MxcsrBits.Ie;
            return ((x & 0x8000_0000) << 32) | FloatBits<Binary64>.Infinity | FloatBits<Binary64>.QuietBit | ((x & 0x7F_FFFF) << 29);
        }
        FloatOperands<Binary32>.FlagDenormals(x, 0, ref status);
        return BitConverter.DoubleToUInt64Bits(BitConverter.UInt32BitsToSingle((uint)x));
    }

    /// <summary>Double to single, rounded under MXCSR; a NaN keeps the top of its payload.</summary>
    public static uint DoubleToSingle(ulong a, ref FloatStatus status)
    {
        a = FloatOperands<Binary64>.ApplyDaz(a, status);
        uint sign = (uint)(a >> 32) & 0x8000_0000;
        if (FloatBits<Binary64>.IsNaN(a))
        {
            if (FloatBits<Binary64>.IsSignalingNaN(a)) status.Flags |= MxcsrBits.Ie;
            return sign | 0x7FC0_0000 | (uint)((a >> 29) & 0x3F_FFFF);
        }
        if (FloatBits<Binary64>.IsInfinity(a)) return sign | 0x7F80_0000;
        if (FloatBits<Binary64>.IsZero(a)) return sign;
        FloatOperands<Binary64>.FlagDenormals(a, 0, ref status);
        return SingleRounding.Round(BitConverter.UInt64BitsToDouble(a), ref status);
    }

    public static uint Int32ToSingle(int v, ref FloatStatus status) => SingleRounding.Round(v, ref status);

    public static uint Int64ToSingle(long v, ref FloatStatus status)
    {
        // Below 2^53 the double is exact; above, round the integer itself.
        if (v > -(1L << 53) && v < 1L << 53) return SingleRounding.Round(v, ref status);
        return (uint)SoftFloat<Binary32>.FromInteger(v < 0, v < 0 ? 0 - (ulong)v : (ulong)v, ref status);
    }

    public static ulong Int32ToDouble(int v) => BitConverter.DoubleToUInt64Bits(v);

    public static ulong Int64ToDouble(long v, ref FloatStatus status)
    {
        if (v > -(1L << 53) && v < 1L << 53) return BitConverter.DoubleToUInt64Bits(v);
        return SoftFloat<Binary64>.FromInteger(v < 0, v < 0 ? 0 - (ulong)v : (ulong)v, ref status);
    }

    /// <summary>
    /// A single or double to a signed integer of <paramref name="bits"/> bits (32 or 64), rounded
    /// as <paramref name="rounding"/> says (MXCSR.RC, or toward zero for the truncating forms).
    /// NaN, infinity and out of range give the integer indefinite (sign bit only) with #I; DAZ
    /// applies, #D never does.
    /// </summary>
    public static ulong ToInteger<F>(ulong a, int bits, Rounding rounding, ref FloatStatus status) where F : struct, IFloatFormat
    {
        a = FloatOperands<F>.ApplyDaz(a, status);
        if (FloatBits<F>.IsZero(a)) return 0;
        if (FloatBits<F>.IsNaN(a) || FloatBits<F>.IsInfinity(a))
        {
            status.Flags |= MxcsrBits.Ie;
            return 1UL << (bits - 1);
        }
        return SoftFloat<F>.ToInteger(a, bits, rounding, ref status);
    }
}
