using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// Reproducible x87 operands: random values of every exponent mixed with the encodings that
/// exercise the edges: signed zeros and infinities, quiet and signaling NaNs, the indefinite,
/// denormals and pseudo-denormals, unnormals and pseudo-NaNs, the largest and smallest
/// normals, integers, halves (rounding ties), values with 24 or 53 significant bits and their
/// neighbours (ties under precision control).
/// </summary>
internal sealed class Float80Values(int seed)
{
    private readonly OperandValues _values = new(seed);

    public OperandValues Values => _values;

    /// <summary>A value; with <paramref name="edges"/> false only finite normal ones near each other's range.</summary>
    public Float80 Next(bool edges = true)
    {
        bool sign = _values.OneIn(2);
        ulong sig = _values.Random64() | Float80.IntegerBit;
        int kind = _values.Between(0, edges ? 24 : 8);
        switch (kind)
        {
            case 0: case 1: case 2:
                return new Float80(sign, Float80.Bias + _values.Between(-70, 70), sig);
            case 3:
                return new Float80(sign, _values.Between(1, Float80.MaxExponent), sig);
            case 4: // a short significand: exact in single or double precision, or a tie one bit below it
                return new Float80(sign, Float80.Bias + _values.Between(-40, 40), sig & ~0UL << _values.Pick(new[] { 40, 39, 11, 10, 62, 63 }));
            case 5: // a small integer or half-integer
                return Float80Arithmetic.FromInteger(_values.Between(-1000, 1000)) is var n && _values.OneIn(2) ? n : Half(_values.Between(-40, 40));
            case 6: // bits that round at the 24/53/64-bit boundary: ...x1000 or ...x0111
                return new Float80(sign, Float80.Bias + _values.Between(-5, 5), (sig & ~0UL << _values.Pick(new[] { 40, 11, 1 })) | (1UL << _values.Pick(new[] { 39, 10, 0 })));
            case 7:
                return new Float80(sign, Float80.Bias + _values.Between(-16000, 16000), sig);
            case 8: return Float80.Zero(sign);
            case 9: return Float80.Infinity(sign);
            case 10: return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | Float80.QuietBit | (_values.Random64() >> 2)); // QNaN
            case 11: return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | 1 | (_values.Random64() >> 2 & ~Float80.QuietBit)); // SNaN
            case 12: return Float80.Indefinite;
            case 13: case 14: return new Float80(sign, 0, _values.Random64() >> _values.Between(1, 64)); // denormal
            case 15: return new Float80(sign, 0, sig); // pseudo-denormal
            case 16: return new Float80(sign, _values.Between(1, Float80.MaxExponent), sig >> 1); // unnormal
            case 17: return new Float80(sign, Float80.MaxExponent, _values.Random64() >> 1); // pseudo-NaN / pseudo-infinity
            case 18: return new Float80(sign, Float80.MaxExponent - 1, ~0UL - (ulong)_values.Between(0, 3)); // near the largest
            case 19: return new Float80(sign, 1 + _values.Between(0, 3), sig); // near the smallest normal
            case 20: return new Float80(sign, Float80.MaxExponent - _values.Between(1, 100), sig); // large
            case 21: return new Float80(sign, _values.Between(1, 200), sig); // tiny
            case 22: return new Float80(sign, Float80.Bias + _values.Between(60, 66), sig); // around 2^63 (integer conversions)
            default: return Float80Arithmetic.FromInteger((long)_values.Next(64) >> _values.Between(0, 64));
        }
    }

    private Float80 Half(int n) => new(n < 0, Float80.Bias - 1, (ulong)Math.Abs(2 * n + 1) << 58 | Float80.IntegerBit);

    /// <summary>A single-precision bit pattern (edges one time in three).</summary>
    public uint NextSingle() => _values.Between(0, 3) switch
    {
        0 => _values.Pick(new uint[] { 0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFFA0_0000, 1, 0x807F_FFFF, 0x0080_0000, 0x7F7F_FFFF, 0x3F80_0000 }),
        1 => (uint)_values.Next(32) & 0x807F_FFFF | (uint)_values.Between(0, 3) * 0x3F80_0000,
        _ => (uint)_values.Random64(),
    };

    /// <summary>A double-precision bit pattern.</summary>
    public ulong NextDouble() => _values.Between(0, 3) switch
    {
        0 => _values.Pick(new ulong[] { 0, 1UL << 63, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0x7FF0_0000_0000_0001, 1, 0x800F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x3FF0_0000_0000_0000 }),
        1 => _values.Next(64) & 0x800F_FFFF_FFFF_FFFF | (ulong)_values.Between(0, 3) * 0x3FF0_0000_0000_0000,
        _ => _values.Random64(),
    };

    /// <summary>An x87 control word: a rounding mode, a precision, and all exceptions masked unless <paramref name="unmaskSome"/>.</summary>
    public ushort ControlWord(int rounding, int precision, bool unmaskSome = false)
    {
        int pc = precision switch { 24 => 0, 53 => 2, _ => 3 };
        int masks = unmaskSome ? _values.Between(0, 64) : 0x3F;
        return (ushort)(0x40 | rounding << 10 | pc << 8 | masks);
    }
}
