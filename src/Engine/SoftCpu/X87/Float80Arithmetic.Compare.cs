namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>How two values compare; as C3 C2 C0 of FCOM: 000 greater, 001 less, 100 equal, 111 unordered.</summary>
internal enum FloatRelation : byte
{
    Greater,
    Less,
    Equal,
    Unordered,
}

internal static partial class Float80Arithmetic
{
    /// <summary>
    /// Compares <paramref name="a"/> with <paramref name="b"/>. An unsupported operand, a
    /// signaling NaN, and with <paramref name="quietNaNsInvalid"/> (FCOM, FICOM, FTST, FCOMI)
    /// any NaN raise invalid operation; a denormal operand raises the denormal exception.
    /// </summary>
    public static FloatRelation Compare(ref FloatContext ctx, Float80 a, Float80 b, bool quietNaNsInvalid)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            ctx.Raise(X87Exceptions.Invalid);
            return FloatRelation.Unordered;
        }
        if (a.IsNaN || b.IsNaN)
        {
            if (quietNaNsInvalid || a.IsSignalingNaN || b.IsSignalingNaN) ctx.Raise(X87Exceptions.Invalid);
            return FloatRelation.Unordered;
        }
        CheckDenormal(ref ctx, a);
        CheckDenormal(ref ctx, b);
        return CompareOrdered(a, b);
    }

    /// <summary>Orders two values that are not NaNs or unsupported (+0 equals −0; a pseudo-denormal equals its normal twin).</summary>
    public static FloatRelation CompareOrdered(Float80 a, Float80 b)
    {
        if (a.IsZero && b.IsZero) return FloatRelation.Equal;
        if (a.Sign != b.Sign) return a.Sign ? FloatRelation.Less : FloatRelation.Greater;
        int magnitude = CompareMagnitude(a, b);
        if (magnitude == 0) return FloatRelation.Equal;
        return (magnitude < 0) ^ a.Sign ? FloatRelation.Less : FloatRelation.Greater;
    }

    private static int CompareMagnitude(Float80 a, Float80 b)
    {
        if (a.IsZero) return b.IsZero ? 0 : -1;
        if (b.IsZero) return 1;
        if (a.IsInfinity || b.IsInfinity) return a.IsInfinity == b.IsInfinity ? 0 : a.IsInfinity ? 1 : -1;
        int aExp = Unpack(a, out ulong aSig), bExp = Unpack(b, out ulong bSig);
        if (aExp != bExp) return aExp < bExp ? -1 : 1;
        return aSig.CompareTo(bSig);
    }
}
