using System.Buffers.Binary;
using System.Runtime.CompilerServices;

// The namespace is not named after its folder: a namespace VmReplay.Engine.SoftCpu.X87
// would hide the instruction family class Instructions.X87 from the handler table.
namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// A double extended-precision value as an x87 register holds it (SDM vol. 1, 4.2.2): sign, a
/// 15-bit exponent biased by 16383 and a 64-bit significand whose top bit is the explicit
/// integer bit J. Every bit pattern is representable, including the encodings a P6-class x87
/// no longer accepts as operands (unnormals, pseudo-NaNs, pseudo-infinities: see
/// <see cref="IsUnsupported"/>) and the pseudo-denormals it still reads.
/// </summary>
internal readonly struct Float80 : IEquatable<Float80>
{
    public const int Bias = 16383;
    public const int MaxExponent = 0x7FFF;
    public const ulong IntegerBit = 1UL << 63;
    public const ulong QuietBit = 1UL << 62;

    public readonly ulong Significand;
    public readonly ushort SignExponent;

    public Float80(ushort signExponent, ulong significand)
    {
        SignExponent = signExponent;
        Significand = significand;
    }

    public Float80(bool sign, int exponent, ulong significand)
    {
        SignExponent = (ushort)((sign ? 0x8000 : 0) | (exponent & MaxExponent));
        Significand = significand;
    }

    public bool Sign => (SignExponent & 0x8000) != 0;

    /// <summary>The biased exponent field.</summary>
    public int Exponent => SignExponent & MaxExponent;

    public bool IsZero => Exponent == 0 && Significand == 0;

    /// <summary>A denormal or a pseudo-denormal (exponent 0, J set): both raise the denormal-operand exception.</summary>
    public bool IsDenormal => Exponent == 0 && Significand != 0;

    /// <summary>Exponent 0x7FFF with only J set.</summary>
    public bool IsInfinity => Exponent == MaxExponent && Significand == IntegerBit;

    /// <summary>Exponent 0x7FFF, J set and a non-zero fraction.</summary>
    public bool IsNaN => Exponent == MaxExponent && (Significand & IntegerBit) != 0 && (Significand << 1) != 0;

    public bool IsSignalingNaN => IsNaN && (Significand & QuietBit) == 0;

    /// <summary>
    /// Encodings the 387 and later reject as operands with an invalid-operation exception:
    /// a non-zero exponent with J clear (unnormals, pseudo-infinities, pseudo-NaNs).
    /// </summary>
    public bool IsUnsupported => Exponent != 0 && (Significand & IntegerBit) == 0;

    public Float80 Negate() => new((ushort)(SignExponent ^ 0x8000), Significand);

    public Float80 Abs() => new((ushort)(SignExponent & 0x7FFF), Significand);

    public Float80 WithSign(bool sign) => new((ushort)((SignExponent & 0x7FFF) | (sign ? 0x8000 : 0)), Significand);

    /// <summary>A NaN with its quiet bit set (what an invalid operation on a signaling NaN delivers).</summary>
    public Float80 Quieted() => new(SignExponent, Significand | QuietBit);

    /// <summary>A pseudo-denormal as the normal number it stands for (exponent 1); other values as they are.</summary>
    public Float80 Canonical() => Exponent == 0 && (Significand & IntegerBit) != 0 ? new Float80((ushort)(SignExponent | 1), Significand) : this;

    public static Float80 Zero(bool sign) => new(sign, 0, 0);

    public static Float80 Infinity(bool sign) => new(sign, MaxExponent, IntegerBit);

    /// <summary>The QNaN floating-point indefinite: the masked response to an invalid operation.</summary>
    public static readonly Float80 Indefinite = new(0xFFFF, 0xC000_0000_0000_0000);

    public static readonly Float80 One = new(false, Bias, IntegerBit);

    /// <summary>Reads the 10-byte memory format (significand, then sign and exponent; little endian).</summary>
    public static Float80 FromBytes(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt16LittleEndian(b[8..]), BinaryPrimitives.ReadUInt64LittleEndian(b));

    /// <summary>Writes the 10-byte memory format.</summary>
    public void WriteBytes(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, Significand);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], SignExponent);
    }

    /// <summary>
    /// The exponent and significand of a finite non-zero value with J set, normalising a
    /// denormal (or pseudo-denormal) to the exponent it stands for (1 - shift).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NormalizedExponent(out ulong significand)
    {
        int exp = Exponent;
        ulong sig = Significand;
        if (exp == 0)
        {
            int shift = System.Numerics.BitOperations.LeadingZeroCount(sig);
            significand = sig << shift;
            return 1 - shift;
        }
        significand = sig;
        return exp;
    }

    public bool Equals(Float80 other) => SignExponent == other.SignExponent && Significand == other.Significand;

    public override bool Equals(object? obj) => obj is Float80 f && Equals(f);

    public override int GetHashCode() => HashCode.Combine(SignExponent, Significand);

    public static bool operator ==(Float80 a, Float80 b) => a.Equals(b);

    public static bool operator !=(Float80 a, Float80 b) => !a.Equals(b);

    public override string ToString() => $"{SignExponent:X4}:{Significand:X16}";
}
