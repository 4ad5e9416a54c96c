using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class PacketEncoderTests
{
    private static string Ascii(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    [Theory]
    [InlineData("OK", "$OK#9a")]
    [InlineData("", "$#00")]
    [InlineData("S05", "$S05#b8")]
    public void FramesWithLowercaseChecksum(string payload, string expected) =>
        Assert.Equal(expected, Ascii(PacketEncoder.Encode(Encoding.ASCII.GetBytes(payload))));

    [Fact]
    public void EscapesTheFourFramingBytes()
    {
        var framed = Ascii(PacketEncoder.Encode("a$b#c}d*e"u8));
        // '$' ^ 0x20 = 0x04, '#' ^ 0x20 = 0x03, '}' ^ 0x20 = ']', '*' ^ 0x20 = '\n'.
        Assert.StartsWith("$a}\u0004b}\u0003c}]d}\ne#", framed);
        var body = Encoding.Latin1.GetBytes(framed[1..^3]);
        Assert.Equal(Checksum.Of(body).ToString("x2"), framed[^2..]);
    }

    [Fact]
    public void EveryByteSurvivesEscapingAndDecoding()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        Assert.Equal(all, RoundTrip(all, runLength: false));
        foreach (var b in all)
            Assert.Equal(new[] { b, b, b }, RoundTrip([b, b, b], runLength: false));
    }

    [Fact]
    public void RunLengthEncodesFourOrMoreAsTheManualShows()
    {
        Assert.Equal("$0* #", Ascii(PacketEncoder.Encode("0000"u8, runLength: true))[..5]);
        // Three in a row is not worth a run.
        Assert.StartsWith("$000#", Ascii(PacketEncoder.Encode("000"u8, runLength: true)));
    }

    [Fact]
    public void RunCountsNeverUseFramingOrAckCharacters()
    {
        for (var length = 1; length <= 400; length++)
        {
            var payload = Enumerable.Repeat((byte)'0', length).ToArray();
            var framed = PacketEncoder.Encode(payload, runLength: true);
            var body = framed.AsSpan(1, framed.Length - 4);
            for (var i = 0; i < body.Length; i++)
            {
                if (body[i] != (byte)'*')
                    continue;
                var count = body[i + 1];
                Assert.InRange(count, (byte)' ', (byte)'~');
                Assert.DoesNotContain(count, "#$+-"u8.ToArray());
                i++;
            }
            Assert.DoesNotContain((byte)'#', body.ToArray());
            Assert.DoesNotContain((byte)'$', body.ToArray());
            Assert.Equal(payload, RoundTrip(payload, runLength: true));
        }
    }

    [Fact]
    public void RunLengthRoundTripsRandomPayloads()
    {
        var random = new Random(1234);
        for (var n = 0; n < 2000; n++)
        {
            // Few distinct bytes, so runs are common, including runs of escaped bytes and of ']'.
            var alphabet = new byte[] { (byte)'0', (byte)']', (byte)'}', (byte)'*', (byte)'#', (byte)'$', 0x03, 0xff };
            var payload = new byte[random.Next(0, 300)];
            var i = 0;
            while (i < payload.Length)
            {
                var b = alphabet[random.Next(alphabet.Length)];
                var run = Math.Min(random.Next(1, 120), payload.Length - i);
                payload.AsSpan(i, run).Fill(b);
                i += run;
            }
            Assert.Equal(payload, RoundTrip(payload, runLength: true));
        }
    }

    [Fact]
    public void RunLengthShortensLongRuns()
    {
        var payload = Enumerable.Repeat((byte)'0', 256).ToArray();
        Assert.True(PacketEncoder.Encode(payload, runLength: true).Length < 20);
    }

    private static byte[] RoundTrip(byte[] payload, bool runLength)
    {
        var decoder = new PacketDecoder();
        decoder.Feed(PacketEncoder.Encode(payload, runLength));
        Assert.True(decoder.TryTake(out var item));
        Assert.False(decoder.TryTake(out _));
        return Assert.IsType<Incoming.Packet>(item).Payload;
    }
}
