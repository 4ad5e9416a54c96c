using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class ChecksumTests
{
    [Theory]
    [InlineData("OK", 0x9a)]
    [InlineData("", 0x00)]
    [InlineData("qSupported", 0x37)]
    [InlineData("g", 0x67)]
    public void SumsBytesModulo256(string payload, int expected) =>
        Assert.Equal((byte)expected, Checksum.Of(Encoding.ASCII.GetBytes(payload)));

    [Fact]
    public void WrapsAround() => Assert.Equal((byte)0xfe, Checksum.Of([0xff, 0xff]));
}
