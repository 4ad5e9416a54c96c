using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// Known values of the arithmetic and the transcendental functions, where the host x87 is no
/// reference: large trigonometric arguments (the host reduces with a 66-bit π), exact cases.
/// Expected values are correctly rounded results worked out with bc at 110 digits.
/// </summary>
public class X87FunctionValueTests
{
    private static Float80 F(string s) => new(Convert.ToUInt16(s[..4], 16), Convert.ToUInt64(s[5..], 16));

    private static FloatContext Nearest() => FloatContext.FromControlWord(0x037F);

    [Theory]
    [InlineData("C013:D30C74E6B31CBDAD", "BFFD:F6301463B9614537", false)] // cos(-1728910.61...)
    [InlineData("403D:C90FDAA22168C234", "BFFD:BFF7683E9372C256", true)]  // sin(π·2^61 rounded): the reduction needs π to 190 bits
    [InlineData("4030:8000000000000000", "3FFD:837CC58E1373CDD9", true)]  // sin(2^49)
    [InlineData("403D:FFFFFFFFFFFFFFFF", "3FFD:FAC035EC484929C2", false)] // cos(2^63 - 1/2), the largest operand in range
    public void SineAndCosineOfLargeArgumentsAreCorrectlyRounded(string x, string expected, bool sine)
    {
        var ctx = Nearest();
        var (sin, cos) = Float80Arithmetic.SinCos(ref ctx, F(x), wantSin: true, wantCos: true);
        Assert.Equal(F(expected), sine ? sin : cos);
        Assert.Equal(X87Exceptions.Precision, ctx.Raised);
    }

    [Fact]
    public void TangentIsCorrectlyRounded()
    {
        var ctx = Nearest();
        Assert.Equal(F("3FFF:C8880DED87D4A3EF"), Float80Arithmetic.Tan(ref ctx, F("4009:B8B1A3B6A3DB5C0C")));
    }

    [Fact]
    public void OperandsFrom2To63AreOutOfRangeForTheTrigonometricInstructions()
    {
        Assert.True(Float80Arithmetic.TrigonometricOperandInRange(F("403D:FFFFFFFFFFFFFFFF")));
        Assert.False(Float80Arithmetic.TrigonometricOperandInRange(F("403E:8000000000000000")));
        Assert.True(Float80Arithmetic.TrigonometricOperandInRange(Float80.Infinity(false))); // invalid, not out of range
    }

    [Fact]
    public void LogarithmOfAPowerOfTwoIsExact()
    {
        var ctx = Nearest();
        // 3 · log2(2^-10) = -30, no precision exception.
        var r = Float80Arithmetic.YLog2X(ref ctx, F("3FF5:8000000000000000"), Float80Arithmetic.FromInteger(3));
        Assert.Equal(Float80Arithmetic.FromInteger(-30), r);
        Assert.Equal(X87Exceptions.None, ctx.Raised);
    }

    [Theory]
    [InlineData("3FFF:8000000000000000", "3FFF:8000000000000000")] // 2^1 - 1 = 1
    [InlineData("BFFF:8000000000000000", "BFFE:8000000000000000")] // 2^-1 - 1 = -0.5
    [InlineData("3FFE:8000000000000000", "3FFD:D413CCCFE7799211")] // √2 - 1
    public void TwoToXMinusOneKnownValues(string x, string expected)
    {
        var ctx = Nearest();
        Assert.Equal(F(expected), Float80Arithmetic.TwoToXMinusOne(ref ctx, F(x)));
    }

    [Fact]
    public void AtanOfOneIsAQuarterPi()
    {
        var ctx = Nearest();
        var quarterPi = X87Constants.Pi(RoundingMode.Nearest);
        Assert.Equal(new Float80(false, quarterPi.Exponent - 2, quarterPi.Significand), Float80Arithmetic.Atan2(ref ctx, Float80.One, Float80.One));
        ctx = Nearest();
        Assert.Equal(X87Constants.Pi(RoundingMode.Nearest).Negate(), Float80Arithmetic.Atan2(ref ctx, Float80.Zero(true), Float80.One.Negate()));
    }

    [Fact]
    public void BasicOperationsRoundOnceUnderPrecisionControl()
    {
        var ctx = Nearest();
        var third = Float80Arithmetic.Divide(ref ctx, Float80.One, Float80Arithmetic.FromInteger(3));
        Assert.Equal(F("3FFD:AAAAAAAAAAAAAAAB"), third);
        Assert.True(ctx.RoundedUp);
        ctx = FloatContext.FromControlWord(0x007F); // single precision
        Assert.Equal(F("3FFD:AAAAAB0000000000"), Float80Arithmetic.Divide(ref ctx, Float80.One, Float80Arithmetic.FromInteger(3)));
        ctx = FloatContext.FromControlWord(0x0F7F); // toward zero
        Assert.Equal(F("3FFF:B504F333F9DE6484"), Float80Arithmetic.SquareRoot(ref ctx, Float80Arithmetic.FromInteger(2)));
        ctx = Nearest();
        Assert.Equal(F("3FFF:B504F333F9DE6484"), Float80Arithmetic.SquareRoot(ref ctx, Float80Arithmetic.FromInteger(2)));
        Assert.False(ctx.RoundedUp);
    }

    [Fact]
    public void PackedBcdRoundTrips()
    {
        Span<byte> bcd = stackalloc byte[10];
        var ctx = Nearest();
        Float80Arithmetic.ToBcd(ref ctx, Float80Arithmetic.FromInteger(-123_456_789_012_345_678), bcd);
        Assert.Equal("78563412907856341280", Convert.ToHexString(bcd));
        Assert.Equal(Float80Arithmetic.FromInteger(-123_456_789_012_345_678), Float80Arithmetic.FromBcd(bcd));
        Float80Arithmetic.ToBcd(ref ctx, Float80Arithmetic.FromInteger(1_000_000_000_000_000_000), bcd);
        Assert.Equal("00000000000000C0FFFF", Convert.ToHexString(bcd)); // the BCD indefinite
        Assert.Equal(X87Exceptions.Invalid, ctx.Raised);
    }
}
