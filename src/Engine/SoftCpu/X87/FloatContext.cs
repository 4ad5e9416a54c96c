using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>The exception flags of the x87 status word (SDM vol. 1, 8.1.3), at their bit positions there.</summary>
[Flags]
internal enum X87Exceptions : ushort
{
    None = 0,
    Invalid = 1,
    Denormal = 2,
    ZeroDivide = 4,
    Overflow = 8,
    Underflow = 0x10,
    Precision = 0x20,
    /// <summary>SF: the invalid operation was a stack overflow or underflow.</summary>
    StackFault = 0x40,
    /// <summary>The exceptions detected before the operation is carried out: when one of them is unmasked, no result is delivered.</summary>
    PreComputation = Invalid | Denormal | ZeroDivide,
}

/// <summary>RC of the x87 control word (and of MXCSR).</summary>
internal enum RoundingMode : byte
{
    Nearest = 0,
    Down = 1,
    Up = 2,
    TowardZero = 3,
}

/// <summary>
/// What one x87 arithmetic operation works under and reports: the rounding mode, the precision
/// results are rounded to (24, 53 or 64 significand bits), which exceptions are masked; and,
/// filled in by the operation, the exceptions it raised and whether it rounded the magnitude up
/// (the status word's C1 after an inexact result).
/// </summary>
internal struct FloatContext
{
    public RoundingMode Rounding;
    /// <summary>Significand bits of a rounded result: 64, or 53 and 24 under precision control.</summary>
    public int Precision;
    public X87Exceptions Masks;
    public X87Exceptions Raised;
    public bool RoundedUp;
    /// <summary>
    /// An operand was a single- or double-precision denormal, widened before the operation: the
    /// operation raises the denormal exception for it where it would for a denormal register.
    /// </summary>
    public bool DenormalSource;

    /// <summary>The context an x87 control word gives: RC (bits 11:10), PC (bits 9:8) and the masks (bits 5:0).</summary>
    public static FloatContext FromControlWord(ushort fcw) => new()
    {
        Rounding = (RoundingMode)((fcw >> 10) & 3),
        // PC 00 single, 10 double, 11 extended; the reserved 01 rounds as extended (as the host x87 does).
        Precision = ((fcw >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 },
        Masks = (X87Exceptions)(fcw & 0x3F),
    };

    /// <summary>This context at full 64-bit precision: the operations precision control does not apply to.</summary>
    public readonly FloatContext Extended() => this with { Precision = 64 };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Raise(X87Exceptions e) => Raised |= e;

    public readonly bool IsMasked(X87Exceptions e) => (Masks & e) == e;

    /// <summary>Whether a raised pre-computation exception is unmasked: the instruction then changes no register or memory.</summary>
    public readonly bool PreComputationFault => (Raised & ~Masks & X87Exceptions.PreComputation) != 0;
}
