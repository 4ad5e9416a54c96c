namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// RCPPS/RCPSS and RSQRTPS/RSQRTSS: approximations whose low bits the SDM leaves to the
/// implementation, within a relative error of 1.5 · 2^-12. Here the exact reciprocal (root) is
/// rounded to nearest at 12 fraction bits (relative error at most 2^-13). The special operands
/// behave as on Intel processors: denormal operands are read as zeros whatever DAZ says,
/// results too small for a normal single are zeros, no exception flag is ever set.
/// </summary>
internal static class ReciprocalEstimate
{
    private const uint SignBit = 0x8000_0000, Infinity = 0x7F80_0000, DefaultNaN = 0xFFC0_0000;
    // Keeps 12 fraction bits of a double (whose fraction has 52).
    private const int DroppedBits = 52 - 12;
    private const double SmallestNormal = 1.1754943508222875e-38;

    /// <summary>≈ 1/a.</summary>
    public static uint Reciprocal(uint a)
    {
        uint sign = a & SignBit, magnitude = a & ~SignBit;
        if (magnitude > Infinity) return a | 0x40_0000;
        if (magnitude == Infinity) return sign;
        if (magnitude < 0x80_0000) return sign | Infinity;
        return Estimate(1.0 / BitConverter.UInt32BitsToSingle(magnitude), sign);
    }

    /// <summary>≈ 1/√a.</summary>
    public static uint ReciprocalSquareRoot(uint a)
    {
        uint sign = a & SignBit, magnitude = a & ~SignBit;
        if (magnitude > Infinity) return a | 0x40_0000;
        if (magnitude < 0x80_0000) return sign | Infinity;
        if (sign != 0) return DefaultNaN;
        if (magnitude == Infinity) return 0;
        return Estimate(1.0 / Math.Sqrt(BitConverter.UInt32BitsToSingle(magnitude)), 0);
    }

    private static uint Estimate(double exact, uint sign)
    {
        // At or below the smallest normal single the estimate (a little under the exact value for
        // a power of two, as on the processors) would be denormal: zero, never a denormal.
        if (exact <= SmallestNormal) return sign;
        ulong bits = BitConverter.DoubleToUInt64Bits(exact);
        bits = (bits + (1UL << (DroppedBits - 1))) & ~((1UL << DroppedBits) - 1);
        return sign | BitConverter.SingleToUInt32Bits((float)BitConverter.UInt64BitsToDouble(bits));
    }
}
