namespace VmReplay.Engine.SoftCpu.X87Fpu;

/// <summary>
/// The constants FLDPI, FLDL2T, FLDL2E, FLDLG2 and FLDLN2 load. The x87 keeps them with more
/// bits than a register holds and rounds them under the rounding mode when loading (SDM vol. 1,
/// 8.3.7); they are kept here with 128 significand bits and rounded likewise (an inexact
/// constant raises no precision exception).
/// </summary>
internal static class X87Constants
{
    // Significands with the binary point after bit 127, and the unbiased exponent of that bit.
    private static readonly UInt128 PiBits = new(0xC90FDAA22168C234, 0xC4C6628B80DC1CD1);
    private static readonly UInt128 Log2TenBits = new(0xD49A784BCD1B8AFE, 0x492BF6FF4DAFDB4C);
    private static readonly UInt128 Log2EBits = new(0xB8AA3B295C17F0BB, 0xBE87FED0691D3E89);
    private static readonly UInt128 Log10TwoBits = new(0x9A209A84FBCFF798, 0x8F8959AC0B7C9178);
    private static readonly UInt128 LnTwoBits = new(0xB17217F7D1CF79AB, 0xC9E3B39803F2F6AF);

    public static Float80 Pi(RoundingMode mode) => Rounded(PiBits, 1, mode);

    public static Float80 Log2Ten(RoundingMode mode) => Rounded(Log2TenBits, 1, mode);

    public static Float80 Log2E(RoundingMode mode) => Rounded(Log2EBits, 0, mode);

    public static Float80 Log10Two(RoundingMode mode) => Rounded(Log10TwoBits, -2, mode);

    public static Float80 LnTwo(RoundingMode mode) => Rounded(LnTwoBits, -1, mode);

    /// <summary>The full-precision significands, for the transcendental functions.</summary>
    public static UInt128 PiSignificand => PiBits;
    public static UInt128 LnTwoSignificand => LnTwoBits;
    public static UInt128 Log2ESignificand => Log2EBits;

    private static Float80 Rounded(UInt128 significand, int exponent, RoundingMode mode)
    {
        // None of them is near a carry out of the significand.
        UInt128 r = Float80Arithmetic.RoundAt(significand, 64, sign: false, mode, out _, out _);
        return new Float80(false, exponent + Float80.Bias, (ulong)(r >> 64));
    }
}
