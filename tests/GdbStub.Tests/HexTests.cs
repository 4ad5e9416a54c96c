using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class HexTests
{
    [Fact]
    public void EncodesLowercase() => Assert.Equal("00abff10", Hex.Encode([0x00, 0xab, 0xff, 0x10]));

    [Fact]
    public void DecodesEitherCase()
    {
        Assert.True(Hex.TryDecode("00AbfF10", out var bytes));
        Assert.Equal(new byte[] { 0x00, 0xab, 0xff, 0x10 }, bytes);
    }

    [Fact]
    public void DecodesEmpty()
    {
        Assert.True(Hex.TryDecode("", out var bytes));
        Assert.Empty(bytes);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("abc")]
    [InlineData("zz")]
    [InlineData("0x12")]
    [InlineData("1 ")]
    public void RejectsOddOrNonHex(string hex) => Assert.False(Hex.TryDecode(hex, out _));

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("1f", 0x1fUL)]
    [InlineData("FFFFFFFFFFFFFFFF", ulong.MaxValue)]
    [InlineData("0000000000000001", 1UL)]
    public void ParsesNumbers(string hex, ulong expected)
    {
        Assert.True(Hex.TryParseUInt64(hex, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("0x1")]
    [InlineData("10000000000000000")]
    [InlineData("12g")]
    public void RejectsNonNumbers(string hex) => Assert.False(Hex.TryParseUInt64(hex, out _));
}
