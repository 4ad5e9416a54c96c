using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// ADDSS, SUBSS, MULSS, DIVSS, SQRTSS on one element (bit patterns), exact in every MXCSR mode.
/// Singles are exact in double precision, where the sum, product, quotient or root is computed
/// with its exact error (an error-free transformation) and rounded through <see cref="SingleRounding"/>.
/// </summary>
internal static class SingleArithmetic
{
    private const uint SignBit = 0x8000_0000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Wide(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);

    public static uint Add(uint a, uint b, ref FloatStatus status) => AddOrSubtract(a, b, false, ref status);

    public static uint Subtract(uint a, uint b, ref FloatStatus status) => AddOrSubtract(a, b, true, ref status);

    private static uint AddOrSubtract(uint a, uint b, bool subtract, ref FloatStatus status)
    {
        ulong x = a, y = b;
        if (!(FloatBits<Binary32>.IsNormal(a) && FloatBits<Binary32>.IsNormal(b)))
        {
            if (FloatOperands<Binary32>.AddSpecial(ref x, ref y, subtract, ref status, out ulong special)) return (uint)special;
        }
        else if (subtract) y ^= SignBit;
        double dx = Wide(x), dy = Wide(y);
        double sum = dx + dy;
        if (sum == 0) return (uint)SoftFloat<Binary32>.ExactZeroSum(ref status);
        return SingleRounding.Round(SingleRounding.ToOdd(sum, ExactArithmetic.SumError(dx, dy, sum)), ref status);
    }

    public static uint Multiply(uint a, uint b, ref FloatStatus status)
    {
        ulong x = a, y = b;
        if (!(FloatBits<Binary32>.IsNormal(a) && FloatBits<Binary32>.IsNormal(b))
            && FloatOperands<Binary32>.MultiplySpecial(ref x, ref y, ref status, out ulong special))
            return (uint)special;
        // 24 × 24 bits: the double product is exact.
        return SingleRounding.Round(Wide(x) * Wide(y), ref status);
    }

    public static uint Divide(uint a, uint b, ref FloatStatus status)
    {
        ulong x = a, y = b;
        if (!(FloatBits<Binary32>.IsNormal(a) && FloatBits<Binary32>.IsNormal(b))
            && FloatOperands<Binary32>.DivideSpecial(ref x, ref y, ref status, out ulong special))
            return (uint)special;
        double dx = Wide(x), dy = Wide(y);
        double q = dx / dy;
        // The exact quotient is q + remainder / dy.
        double remainder = Math.FusedMultiplyAdd(-q, dy, dx);
        return SingleRounding.Round(SingleRounding.ToOdd(q, dy > 0 ? remainder : -remainder), ref status);
    }

    public static uint SquareRoot(uint a, ref FloatStatus status)
    {
        ulong x = a;
        if (!(FloatBits<Binary32>.IsNormal(a) && (a & SignBit) == 0)
            && FloatOperands<Binary32>.SquareRootSpecial(ref x, ref status, out ulong special))
            return (uint)special;
        double dx = Wide(x);
        double root = Math.Sqrt(dx);
        return SingleRounding.Round(SingleRounding.ToOdd(root, Math.FusedMultiplyAdd(-root, root, dx)), ref status);
    }
}
