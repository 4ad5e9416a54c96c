using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// An IEEE 754 binary interchange format, described by its field widths, so that the software
/// arithmetic (<see cref="SoftFloat{F}"/>) is written once for single and double precision.
/// Values travel as their bit patterns in a <see cref="ulong"/>.
/// </summary>
internal interface IFloatFormat
{
    /// <summary>Stored fraction bits: 23 or 52.</summary>
    static abstract int FractionBits { get; }

    /// <summary>Exponent field bits: 8 or 11.</summary>
    static abstract int ExponentBits { get; }
}

/// <summary>IEEE 754 binary32 (single precision).</summary>
internal readonly struct Binary32 : IFloatFormat
{
    public static int FractionBits => 23;
    public static int ExponentBits => 8;
}

/// <summary>IEEE 754 binary64 (double precision).</summary>
internal readonly struct Binary64 : IFloatFormat
{
    public static int FractionBits => 52;
    public static int ExponentBits => 11;
}

/// <summary>Classification and constants of format <typeparamref name="F"/>'s bit patterns.</summary>
internal static class FloatBits<F> where F : struct, IFloatFormat
{
    public static int Precision { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => F.FractionBits + 1; }
    public static int ExponentField { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (1 << F.ExponentBits) - 1; }
    public static int Bias { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ExponentField >> 1; }
    /// <summary>The exponent of the smallest normal number (-126, -1022).</summary>
    public static int MinExponent { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 1 - Bias; }
    public static int MaxExponent { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Bias; }
    public static ulong Sign { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 1UL << (F.FractionBits + F.ExponentBits); }
    public static ulong FractionMask { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (1UL << F.FractionBits) - 1; }
    public static ulong Infinity { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (ulong)ExponentField << F.FractionBits; }
    /// <summary>The largest finite magnitude.</summary>
    public static ulong MaxFinite { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Infinity - 1; }
    public static ulong QuietBit { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 1UL << (F.FractionBits - 1); }
    /// <summary>The QNaN floating-point indefinite an x86 unit returns for a masked invalid operation: sign set, quiet bit only.</summary>
    public static ulong DefaultNaN { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Sign | Infinity | QuietBit; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Magnitude(ulong v) => v & (Sign - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN(ulong v) => Magnitude(v) > Infinity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsSignalingNaN(ulong v) => IsNaN(v) && (v & QuietBit) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsInfinity(ulong v) => Magnitude(v) == Infinity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsZero(ulong v) => Magnitude(v) == 0;

    /// <summary>Nonzero with a zero exponent field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDenormal(ulong v) => Magnitude(v) - 1 < FractionMask;

    /// <summary>Normal and finite: neither zero, denormal, infinite nor NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNormal(ulong v) => Magnitude(v) - (FractionMask + 1) < Infinity - (FractionMask + 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNegative(ulong v) => (v & Sign) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Quiet(ulong v) => v | QuietBit;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Zero(bool negative) => negative ? Sign : 0;
}
