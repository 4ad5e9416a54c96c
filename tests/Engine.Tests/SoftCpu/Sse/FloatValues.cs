namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// Seeded single and double operands for differential tests of SSE floating point: zeros of
/// both signs, infinities, QNaNs and SNaNs with payloads, denormals, the smallest normal and
/// largest finite numbers, significands with few bits set (their sums and products land on
/// rounding ties), values near integers and integer limits, random numbers of every exponent;
/// and partners for a first operand that put a sum, product or quotient next to a rounding
/// boundary, the underflow or the overflow threshold, or cancel it exactly.
/// </summary>
internal sealed class FloatValues
{
    private readonly Random _random;

    public FloatValues(int seed) => _random = new Random(seed);

    /// <summary>A format by its field widths: single (23, 8) or double (52, 11).</summary>
    public readonly record struct Format(int FractionBits, int ExponentBits)
    {
        public int Bias => (1 << (ExponentBits - 1)) - 1;
        public ulong Sign => 1UL << (FractionBits + ExponentBits);
        public ulong FractionMask => (1UL << FractionBits) - 1;
        public int MaxField => (1 << ExponentBits) - 1;
        public ulong Pack(bool negative, int field, ulong fraction) => (negative ? Sign : 0) | ((ulong)field << FractionBits) | (fraction & FractionMask);
        public int FieldOf(ulong v) => (int)((v >> FractionBits) & (ulong)MaxField);
    }

    public static readonly Format Single = new(23, 8), Double = new(52, 11);

    private bool Coin() => _random.Next(2) == 0;

    private ulong Bits64() => (ulong)_random.NextInt64() ^ ((ulong)_random.Next(2) << 63);

    /// <summary>A fraction with a few bits set near its top or bottom.</summary>
    private ulong SparseFraction(Format f)
    {
        ulong v = 0;
        int n = _random.Next(4);
        for (int i = 0; i < n; i++) v |= 1UL << _random.Next(f.FractionBits);
        if (_random.Next(3) == 0) v |= 1UL << (f.FractionBits - 1 - _random.Next(Math.Min(12, f.FractionBits)));
        return v;
    }

    /// <summary>One value.</summary>
    public ulong Next(Format f)
    {
        bool negative = Coin();
        switch (_random.Next(16))
        {
            case 0:
                return _random.Next(6) switch
                {
                    0 or 1 => f.Pack(negative, 0, 0),
                    2 => f.Pack(negative, f.MaxField, 0),
                    3 => f.Pack(negative, f.MaxField, (1UL << (f.FractionBits - 1)) | (Coin() ? 0 : Bits64())),  // QNaN
                    _ => f.Pack(negative, f.MaxField, Math.Max(1, Bits64() & (f.FractionMask >> 1))),           // SNaN
                };
            case 1:
            case 2:
                return _random.Next(5) switch
                {
                    0 => f.Pack(negative, 0, 1),
                    1 => f.Pack(negative, 0, f.FractionMask),
                    2 => f.Pack(negative, 0, SparseFraction(f) | 1UL << _random.Next(f.FractionBits)),
                    _ => f.Pack(negative, 0, Bits64() >> _random.Next(64 - f.FractionBits, 64)),
                };
            case 3:
                return _random.Next(6) switch
                {
                    0 => f.Pack(negative, 1, 0),
                    1 => f.Pack(negative, f.MaxField - 1, f.FractionMask),
                    2 => f.Pack(negative, 1, Bits64()),
                    3 => f.Pack(negative, f.MaxField - 1, Bits64()),
                    4 => f.Pack(negative, f.Bias, 0),
                    _ => f.Pack(negative, f.Bias + _random.Next(-2, 3), 0),
                };
            case 4:
            case 5:
            case 6:
                return f.Pack(negative, f.Bias + _random.Next(-30, 31), SparseFraction(f));
            case 7:
            case 8:
                return f.Pack(negative, f.Bias + _random.Next(-30, 31), Bits64());
            case 9:
                return NearInteger(f, negative);
            case 10:
                return f.Pack(negative, _random.Next(1, f.MaxField), _random.Next(3) == 0 ? SparseFraction(f) : Bits64());
            case 11:
                // Near the bottom or top of the normal range.
                int field = Coin() ? _random.Next(1, 60) : f.MaxField - _random.Next(1, 60);
                return f.Pack(negative, Math.Clamp(field, 1, f.MaxField - 1), _random.Next(3) == 0 ? SparseFraction(f) : Bits64());
            default:
                return f.Pack(negative, f.Bias + _random.Next(-8, 9), Bits64());
        }
    }

    // Integers and halves, and values around 2^31, 2^32, 2^63, 2^64 (conversions to integers).
    private ulong NearInteger(Format f, bool negative)
    {
        double v = _random.Next(4) switch
        {
            0 => _random.Next(-20, 21) + _random.Next(4) * 0.25,
            1 => Math.ScaleB(1, new[] { 31, 32, 63, 64, 53, 24 }[_random.Next(6)]) + _random.Next(-3, 4) * Math.ScaleB(1, _random.Next(-2, 12)),
            2 => _random.NextInt64() * Math.ScaleB(1, -_random.Next(0, 40)),
            _ => _random.Next(-100000, 100000) + 0.5,
        };
        if (negative) v = -v;
        if (f.FractionBits == 23)
        {
            float s = (float)v;
            return BitConverter.SingleToUInt32Bits(s);
        }
        return BitConverter.DoubleToUInt64Bits(v);
    }

    /// <summary>
    /// A second operand for <paramref name="a"/>: often one that makes a + b, a − b, a · b or a / b
    /// land on an edge; else an independent value.
    /// </summary>
    public ulong Partner(Format f, ulong a)
    {
        int field = f.FieldOf(a);
        bool negative = Coin();
        int p = f.FractionBits + 1;
        switch (_random.Next(12))
        {
            case 0: return a ^ (Coin() ? f.Sign : 0);                                   // x + x, x − x
            case 1: return a ^ (Coin() ? f.Sign : 0) ^ (ulong)_random.Next(1, 4);     // near cancellation
            case 2:
                // Below a by about its precision: the sum is a rounding tie or just off one.
                int below = Math.Clamp(field - p + _random.Next(-2, 3), 0, f.MaxField - 1);
                return f.Pack(negative, below, Coin() ? 0 : SparseFraction(f));
            case 3:
                // A product near the underflow threshold (exponents adding up to the smallest normal one, or below).
                return Around(f, negative, f.Bias + 1 - field + _random.Next(-f.FractionBits - 3, 4));
            case 4:
                // A product near the overflow threshold.
                return Around(f, negative, 3 * f.Bias - field + _random.Next(-3, 3));
            case 5:
                // A quotient near the underflow threshold.
                return Around(f, negative, field + f.Bias - 1 + _random.Next(-3, f.FractionBits + 4));
            case 6:
                // A quotient near the overflow threshold.
                return Around(f, negative, field - f.Bias + _random.Next(-3, 3));
            default:
                return Next(f);
        }
    }

    private ulong Around(Format f, bool negative, int field) =>
        f.Pack(negative, Math.Clamp(field, 0, f.MaxField - 1), Coin() ? SparseFraction(f) : Bits64());

    /// <summary>
    /// An MXCSR: any rounding mode, DAZ and FTZ a quarter of the time each, now and then some
    /// flags already set, and (with <paramref name="unmasking"/>) some exceptions unmasked.
    /// </summary>
    public uint Mxcsr(bool unmasking)
    {
        uint m = 0x1F80 | ((uint)_random.Next(4) << 13);
        if (_random.Next(4) == 0) m |= 0x40;
        if (_random.Next(4) == 0) m |= 0x8000;
        if (_random.Next(8) == 0) m |= (uint)_random.Next(64);
        if (unmasking && _random.Next(6) == 0) m &= ~((uint)_random.Next(1, 64) << 7);
        return m;
    }

    public int Between(int min, int max) => _random.Next(min, max);

    public bool OneIn(int n) => _random.Next(n) == 0;
}
