using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>How two floating-point values compare.</summary>
internal enum FloatRelation : byte
{
    Less,
    Equal,
    Greater,
    Unordered,
}

/// <summary>
/// CMPPS/CMPSS/CMPPD/CMPSD predicates, COMIS/UCOMIS relations and the x86 MIN/MAX (SDM vol. 2,
/// MINPS: not IEEE minNum; with a NaN operand or two zeros the second operand is returned). A
/// NaN operand suppresses #D; DAZ applies before anything.
/// </summary>
internal static class FloatComparison<F> where F : struct, IFloatFormat
{
    // A key that orders non-NaN values as integers: zeros of both signs are equal.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long OrderKey(ulong v)
    {
        ulong magnitude = FloatBits<F>.Magnitude(v);
        return FloatBits<F>.IsNegative(v) ? -(long)magnitude : (long)magnitude;
    }

    /// <summary>
    /// The relation of a to b. <paramref name="signalingOnQuietNaN"/>: a QNaN operand raises #I
    /// too (COMIS, the LT/LE/NLT/NLE predicates), else only an SNaN does.
    /// </summary>
    public static FloatRelation Compare(ulong a, ulong b, bool signalingOnQuietNaN, ref FloatStatus status)
    {
        a = FloatOperands<F>.ApplyDaz(a, status);
        b = FloatOperands<F>.ApplyDaz(b, status);
        if (FloatBits<F>.IsNaN(a) || FloatBits<F>.IsNaN(b))
        {
            if (signalingOnQuietNaN || FloatBits<F>.IsSignalingNaN(a) || FloatBits<F>.IsSignalingNaN(b)) status.Flags |= MxcsrBits.Ie;
            return FloatRelation.Unordered;
        }
        FloatOperands<F>.FlagDenormals(a, b, ref status);
        long ka = OrderKey(a), kb = OrderKey(b);
        return ka < kb ? FloatRelation.Less : ka == kb ? FloatRelation.Equal : FloatRelation.Greater;
    }

    /// <summary>CMPccPS/PD/SS/SD predicate 0-7 (EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD).</summary>
    public static bool Predicate(ulong a, ulong b, int predicate, ref FloatStatus status)
    {
        // LT, LE, NLT and NLE signal on QNaNs too.
        bool signaling = (predicate & 3) is 1 or 2;
        var r = Compare(a, b, signaling, ref status);
        bool result = (predicate & 3) switch
        {
            0 => r == FloatRelation.Equal,
            1 => r == FloatRelation.Less,
            2 => r is FloatRelation.Less or FloatRelation.Equal,
            _ => r == FloatRelation.Unordered,
        };
        return (predicate & 4) != 0 ? !result : result;
    }

    /// <summary>MIN: a &lt; b ? a : b; a NaN operand (#I, quiet or not) or two zeros give b.</summary>
    public static ulong Minimum(ulong a, ulong b, ref FloatStatus status) => Select(a, b, wantLess: true, ref status);

    /// <summary>MAX: a &gt; b ? a : b; a NaN operand (#I, quiet or not) or two zeros give b.</summary>
    public static ulong Maximum(ulong a, ulong b, ref FloatStatus status) => Select(a, b, wantLess: false, ref status);

    private static ulong Select(ulong a, ulong b, bool wantLess, ref FloatStatus status)
    {
        a = FloatOperands<F>.ApplyDaz(a, status);
        b = FloatOperands<F>.ApplyDaz(b, status);
        if (FloatBits<F>.IsNaN(a) || FloatBits<F>.IsNaN(b))
        {
            status.Flags |= MxcsrBits.Ie;
            return b;
        }
        FloatOperands<F>.FlagDenormals(a, b, ref status);
        long ka = OrderKey(a), kb = OrderKey(b);
        return (wantLess ? ka < kb : ka > kb) ? a : b;
    }
}
