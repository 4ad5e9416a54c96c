using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>Error-free transformations: the exact rounding error of the host's round-to-nearest double operations.</summary>
internal static class ExactArithmetic
{
    /// <summary>(x + y) − sum for sum = x + y rounded to nearest (Knuth's TwoSum); exact unless the sum overflowed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumError(double x, double y, double sum)
    {
        double yPart = sum - x;
        double xPart = sum - yPart;
        return (x - xPart) + (y - yPart);
    }
}
