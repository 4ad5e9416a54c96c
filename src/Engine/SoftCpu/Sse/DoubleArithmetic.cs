using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// ADDSD, SUBSD, MULSD, DIVSD, SQRTSD on one element (bit patterns), exact in every MXCSR mode.
/// Normal operands whose result lies well inside the normal range take the host's
/// round-to-nearest result, whose exact error (TwoSum, or a fused multiply-add) gives the
/// precision flag and the neighbour a directed rounding picks; everything else (denormals,
/// results near underflow or overflow) goes to <see cref="SoftFloat{F}"/>.
/// </summary>
internal static class DoubleArithmetic
{
    private const ulong SignBit = 1UL << 63;
    // Results at least 2^-1021 are normal after any rounding.
    private const double SafeSum = 4.450147717014403e-308;
    // Below 2^-966 a product's or quotient's error may not be representable (it would be denormal).
    private const double SafeProduct = 1.6033346880071782e-291;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Value(ulong bits) => BitConverter.UInt64BitsToDouble(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Bits(double value) => BitConverter.DoubleToUInt64Bits(value);

    /// <summary>
    /// The result in the status's rounding mode, from <paramref name="nearest"/> and the sign of
    /// the exact value minus it; false when the directed result overflows (the slow path decides).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDirect(double nearest, double error, ref FloatStatus status, out ulong result)
    {
        if (error == 0)
        {
            result = Bits(nearest);
            return true;
        }
        double r = status.Rounding switch
        {
            Rounding.NearestEven => nearest,
            Rounding.Down => error < 0 ? Math.BitDecrement(nearest) : nearest,
            Rounding.Up => error > 0 ? Math.BitIncrement(nearest) : nearest,
            _ => (error < 0) == (nearest > 0) ? (nearest > 0 ? Math.BitDecrement(nearest) : Math.BitIncrement(nearest)) : nearest,
        };
        result = Bits(r);
        if (double.IsInfinity(r)) return false;
        status.Flags |= MxcsrBits.Pe;
        return true;
    }

    public static ulong Add(ulong a, ulong b, ref FloatStatus status) => AddOrSubtract(a, b, false, ref status);

    public static ulong Subtract(ulong a, ulong b, ref FloatStatus status) => AddOrSubtract(a, b, true, ref status);

    private static ulong AddOrSubtract(ulong a, ulong b, bool subtract, ref FloatStatus status)
    {
        if (!(FloatBits<Binary64>.IsNormal(a) && FloatBits<Binary64>.IsNormal(b)))
        {
            if (FloatOperands<Binary64>.AddSpecial(ref a, ref b, subtract, ref status, out ulong special)) return special;
            return SoftFloat<Binary64>.Add(a, b, ref status);
        }
        if (subtract) b ^= SignBit;
        double x = Value(a), y = Value(b);
        double sum = x + y;
        if (sum == 0) return SoftFloat<Binary64>.ExactZeroSum(ref status);
        if (Math.Abs(sum) >= SafeSum && !double.IsInfinity(sum)
            && TryDirect(sum, ExactArithmetic.SumError(x, y, sum), ref status, out ulong result))
            return result;
        return SoftFloat<Binary64>.Add(a, b, ref status);
    }

    public static ulong Multiply(ulong a, ulong b, ref FloatStatus status)
    {
        if (!(FloatBits<Binary64>.IsNormal(a) && FloatBits<Binary64>.IsNormal(b)))
        {
            if (FloatOperands<Binary64>.MultiplySpecial(ref a, ref b, ref status, out ulong special)) return special;
            return SoftFloat<Binary64>.Multiply(a, b, ref status);
        }
        double x = Value(a), y = Value(b);
        double product = x * y;
        if (Math.Abs(product) >= SafeProduct && !double.IsInfinity(product)
            && TryDirect(product, Math.FusedMultiplyAdd(x, y, -product), ref status, out ulong result))
            return result;
        return SoftFloat<Binary64>.Multiply(a, b, ref status);
    }

    public static ulong Divide(ulong a, ulong b, ref FloatStatus status)
    {
        if (!(FloatBits<Binary64>.IsNormal(a) && FloatBits<Binary64>.IsNormal(b)))
        {
            if (FloatOperands<Binary64>.DivideSpecial(ref a, ref b, ref status, out ulong special)) return special;
            return SoftFloat<Binary64>.Divide(a, b, ref status);
        }
        double x = Value(a), y = Value(b);
        double q = x / y;
        if (Math.Abs(q) >= SafeProduct && Math.Abs(x) >= SafeProduct && !double.IsInfinity(q))
        {
            double remainder = Math.FusedMultiplyAdd(-q, y, x);
            if (TryDirect(q, y > 0 ? remainder : -remainder, ref status, out ulong result)) return result;
        }
        return SoftFloat<Binary64>.Divide(a, b, ref status);
    }

    public static ulong SquareRoot(ulong a, ref FloatStatus status)
    {
        if (!(FloatBits<Binary64>.IsNormal(a) && (a & SignBit) == 0))
        {
            if (FloatOperands<Binary64>.SquareRootSpecial(ref a, ref status, out ulong special)) return special;
            return SoftFloat<Binary64>.SquareRoot(a, ref status);
        }
        double x = Value(a);
        if (x < SafeProduct) return SoftFloat<Binary64>.SquareRoot(a, ref status);
        double root = Math.Sqrt(x);
        TryDirect(root, Math.FusedMultiplyAdd(-root, root, x), ref status, out ulong result);
        return result;
    }
}
