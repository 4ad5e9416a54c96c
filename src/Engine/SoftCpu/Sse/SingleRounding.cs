using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// Single-precision results computed in double precision. The exact result of a single-precision
/// operation is first brought to 53 bits rounded to odd (<see cref="ToOdd"/>): a 53-bit value
/// that keeps whether anything was lost in its last bit, so that rounding it again to 24 bits
/// gives what rounding the exact value would, in every mode, with the same flags (53 ≥ 24 + 2).
/// </summary>
internal static class SingleRounding
{
    private const ulong SignBit = 1UL << 63;
    // Results at least this large are normal singles after any rounding: 2^-125, twice the smallest normal.
    private const double SafeMinimum = 2.350988701644575e-38;

    /// <summary>
    /// <paramref name="nearest"/> (the exact value rounded to nearest) rounded to odd instead,
    /// given <paramref name="error"/>, the exact value minus <paramref name="nearest"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToOdd(double nearest, double error)
    {
        if (error == 0 || (BitConverter.DoubleToUInt64Bits(nearest) & 1) != 0) return nearest;
        return error > 0 ? Math.BitIncrement(nearest) : Math.BitDecrement(nearest);
    }

    /// <summary>
    /// Rounds a finite double (exact, or rounded to odd) to single precision under the status's
    /// rounding mode, with overflow, underflow, FTZ and precision. Returns the single's bits.
    /// </summary>
    public static uint Round(double value, ref FloatStatus status)
    {
        float nearest = (float)value;
        float magnitude = Math.Abs(nearest);
        if (magnitude >= SafeMinimum && magnitude <= float.MaxValue)
        {
            double back = nearest;
            if (back == value) return BitConverter.SingleToUInt32Bits(nearest);
            float r = status.Rounding switch
            {
                Rounding.NearestEven => nearest,
                Rounding.Down => value < back ? MathF.BitDecrement(nearest) : nearest,
                Rounding.Up => value > back ? MathF.BitIncrement(nearest) : nearest,
                _ => Math.Abs(value) < Math.Abs(back) ? (nearest > 0 ? MathF.BitDecrement(nearest) : MathF.BitIncrement(nearest)) : nearest,
            };
            if (!float.IsInfinity(r))
            {
                status.Flags |= MxcsrBits.Pe;
                return BitConverter.SingleToUInt32Bits(r);
            }
        }
        ulong bits = BitConverter.DoubleToUInt64Bits(value);
        if ((bits & ~SignBit) == 0) return (uint)(bits >> 32);
        SoftFloat<Binary64>.Unpack(bits, out bool negative, out int exponent, out ulong significand);
        return (uint)SoftFloat<Binary32>.RoundPack(negative, exponent, significand, ref status);
    }
}
