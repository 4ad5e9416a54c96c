using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class PacketDecoderTests
{
    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    private static string Framed(string payload) => Encoding.Latin1.GetString(PacketEncoder.Encode(Bytes(payload)));

    private static List<Incoming> Decode(PacketDecoder decoder, string stream)
    {
        decoder.Feed(Bytes(stream));
        return Drain(decoder);
    }

    private static List<Incoming> Drain(PacketDecoder decoder)
    {
        var items = new List<Incoming>();
        while (decoder.TryTake(out var item))
            items.Add(item);
        return items;
    }

    private static string PayloadOf(Incoming item) => Encoding.Latin1.GetString(Assert.IsType<Incoming.Packet>(item).Payload);

    [Fact]
    public void DecodesOnePacket()
    {
        var decoder = new PacketDecoder();
        var items = Decode(decoder, "$m1000,4#8e");
        Assert.Equal("m1000,4", PayloadOf(Assert.Single(items)));
        Assert.False(decoder.InPacket);
    }

    [Fact]
    public void AcceptsUppercaseChecksumDigits()
    {
        var items = Decode(new PacketDecoder(), "$OK#9A");
        Assert.Equal("OK", PayloadOf(Assert.Single(items)));
    }

    [Fact]
    public void RecognisesAcksNacksAndInterrupts()
    {
        var items = Decode(new PacketDecoder(), "+-\u0003+");
        Assert.Equal<Incoming>([new Incoming.Ack(), new Incoming.Nack(), new Incoming.Interrupt(), new Incoming.Ack()], items);
    }

    [Fact]
    public void InterruptByteInsideAPacketIsData()
    {
        var items = Decode(new PacketDecoder(), Framed("a\u0003b"));
        Assert.Equal("a\u0003b", PayloadOf(Assert.Single(items)));
    }

    [Fact]
    public void SkipsGarbageBetweenPackets()
    {
        var stream = "xyz\r\n" + Framed("g") + "#12 junk" + Framed("?") + "\0";
        var items = Decode(new PacketDecoder(), stream);
        Assert.Equal(["g", "?"], items.Select(PayloadOf));
    }

    [Fact]
    public void ReportsABadChecksumWithTheRawBytes()
    {
        var decoder = new PacketDecoder();
        var items = Decode(decoder, "$OK#00$OK#zz" + Framed("g"));
        Assert.Equal(3, items.Count);
        Assert.Equal("OK", Encoding.Latin1.GetString(Assert.IsType<Incoming.BadChecksum>(items[0]).Raw));
        Assert.IsType<Incoming.BadChecksum>(items[1]);
        Assert.Equal("g", PayloadOf(items[2]));
    }

    [Fact]
    public void DollarInsideAPacketStartsOver()
    {
        var items = Decode(new PacketDecoder(), "$m10,4" + Framed("m20,4"));
        Assert.Equal("m20,4", PayloadOf(Assert.Single(items)));
    }

    [Fact]
    public void UnescapesEscapedBytes()
    {
        // "}]" is '}', "}\x03" is '#', "}\x04" is '$', "}\n" is '*'.
        var body = "X0,4:}]}\u0003}\u0004}\n";
        var stream = "$" + body + "#" + Checksum.Of(Bytes(body)).ToString("x2");
        var items = Decode(new PacketDecoder(), stream);
        Assert.Equal("X0,4:}#$*", PayloadOf(Assert.Single(items)));
    }

    [Theory]
    // From the manual: "0* " means the same as "0000".
    [InlineData("0* ", "0000")]
    [InlineData("a*!b", "aaaaab")]
    [InlineData("x0*\"", "x000000")]
    [InlineData("0*~", "0")] // 1 + 97 repeats
    public void ExpandsRuns(string body, string expected)
    {
        if (expected == "0")
            expected = new string('0', 98);
        var stream = "$" + body + "#" + Checksum.Of(Bytes(body)).ToString("x2");
        var items = Decode(new PacketDecoder(), stream);
        Assert.Equal(expected, PayloadOf(Assert.Single(items)));
    }

    [Fact]
    public void ExpandsRunsBeforeUnescaping()
    {
        // '}' ']' then ']' three more times: the escape pair yields '}', then "]]]".
        var body = "}]* ";
        var stream = "$" + body + "#" + Checksum.Of(Bytes(body)).ToString("x2");
        Assert.Equal("}]]]", PayloadOf(Assert.Single(Decode(new PacketDecoder(), stream))));
    }

    [Fact]
    public void HandlesSplitsAtEveryByteBoundary()
    {
        var stream = Bytes("+" + Framed("m1,4") + "garbage" + Framed("vCont;c") + "-\u0003" + Framed("X0,2:}]*") + "$bad#00");
        var expected = Decode(new PacketDecoder(), Encoding.Latin1.GetString(stream));
        Assert.Equal(7, expected.Count);
        for (var split = 0; split <= stream.Length; split++)
        {
            var decoder = new PacketDecoder();
            decoder.Feed(stream.AsSpan(0, split));
            var items = Drain(decoder);
            decoder.Feed(stream.AsSpan(split));
            items.AddRange(Drain(decoder));
            AssertSameItems(expected, items);
        }
    }

    [Fact]
    public void HandlesOneByteAtATime()
    {
        var stream = Bytes(Framed("m1,4") + "+" + Framed("0000000000000000") + Framed("qSupported:swbreak+;hwbreak+"));
        var decoder = new PacketDecoder();
        var items = new List<Incoming>();
        foreach (var b in stream)
        {
            decoder.Feed([b]);
            items.AddRange(Drain(decoder));
        }
        Assert.Equal(4, items.Count);
        Assert.Equal("m1,4", PayloadOf(items[0]));
        Assert.IsType<Incoming.Ack>(items[1]);
        Assert.Equal("0000000000000000", PayloadOf(items[2]));
        Assert.Equal("qSupported:swbreak+;hwbreak+", PayloadOf(items[3]));
    }

    [Fact]
    public void HandlesTheBriefsSplitExample()
    {
        var decoder = new PacketDecoder();
        foreach (var piece in new[] { "$m1", "0,4#", "2", "e" })
            decoder.Feed(Bytes(piece));
        Assert.Equal("m10,4", PayloadOf(Assert.Single(Drain(decoder))));
    }

    [Fact]
    public void DiscardsAnOversizedPacketAndKeepsGoing()
    {
        var decoder = new PacketDecoder(maxPacketSize: 16);
        var big = new string('a', 40);
        var items = Decode(decoder, Framed(big) + Framed("g"));
        Assert.Equal(2, items.Count);
        Assert.Equal(40, Assert.IsType<Incoming.Oversized>(items[0]).Length);
        Assert.Equal("g", PayloadOf(items[1]));
    }

    [Fact]
    public void ABodyOfMoreThan2GiBIsReportedWithItsTrueLength()
    {
        var decoder = new PacketDecoder();
        var block = new byte[1 << 20];
        Array.Fill(block, (byte)'a');
        decoder.Feed(Bytes("$"));
        const int blocks = 2049; // 2 GiB + 1 MiB: past int.MaxValue
        for (var i = 0; i < blocks; i++)
            decoder.Feed(block);
        var items = Decode(decoder, "#00" + Framed("g"));
        Assert.Equal(2, items.Count);
        Assert.Equal((long)blocks << 20, Assert.IsType<Incoming.Oversized>(items[0]).Length);
        Assert.Equal("g", PayloadOf(items[1]));
    }

    [Fact]
    public void ADollarWhereAChecksumDigitBelongsStartsTheNextPacket()
    {
        // The issue's case: the first packet is cut off in its checksum; the second is not lost.
        var items = Decode(new PacketDecoder(), "$m1000,4#$g#67");
        Assert.Equal(2, items.Count);
        Assert.Equal("m1000,4", Encoding.Latin1.GetString(Assert.IsType<Incoming.BadChecksum>(items[0]).Raw));
        Assert.Equal("g", PayloadOf(items[1]));

        // In the second digit's place too.
        items = Decode(new PacketDecoder(), "$m1000,4#8$g#67");
        Assert.Equal(2, items.Count);
        Assert.IsType<Incoming.BadChecksum>(items[0]);
        Assert.Equal("g", PayloadOf(items[1]));
    }

    [Fact]
    public void APacketAtTheLimitIsAccepted()
    {
        var decoder = new PacketDecoder(maxPacketSize: 16);
        var items = Decode(decoder, Framed(new string('a', 16)));
        Assert.Equal(new string('a', 16), PayloadOf(Assert.Single(items)));
    }

    [Fact]
    public void ARunThatExpandsPastTheLimitIsOversized()
    {
        var decoder = new PacketDecoder(maxPacketSize: 16);
        var body = "0*~";
        var items = Decode(decoder, "$" + body + "#" + Checksum.Of(Bytes(body)).ToString("x2") + Framed("g"));
        Assert.IsType<Incoming.Oversized>(items[0]);
        Assert.Equal("g", PayloadOf(items[1]));
    }

    [Fact]
    public void InPacketTracksAnUnfinishedPacket()
    {
        var decoder = new PacketDecoder();
        Assert.False(decoder.InPacket);
        Assert.IsType<Incoming.Ack>(Assert.Single(Decode(decoder, "+$m10")));
        Assert.True(decoder.InPacket);
        Decode(decoder, ",4#");
        Assert.True(decoder.InPacket);
        Decode(decoder, "f");
        Assert.True(decoder.InPacket);
        var items = Decode(decoder, "d");
        Assert.False(decoder.InPacket);
        Assert.IsType<Incoming.BadChecksum>(Assert.Single(items));
    }

    [Fact]
    public void AckBytesInsideAPacketAreData()
    {
        var items = Decode(new PacketDecoder(), Framed("qSupported:a+;b-"));
        Assert.Equal("qSupported:a+;b-", PayloadOf(Assert.Single(items)));
    }

    private static void AssertSameItems(List<Incoming> expected, List<Incoming> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].GetType(), actual[i].GetType());
            switch (expected[i])
            {
                case Incoming.Packet p:
                    Assert.Equal(p.Payload, ((Incoming.Packet)actual[i]).Payload);
                    break;
                case Incoming.BadChecksum b:
                    Assert.Equal(b.Raw, ((Incoming.BadChecksum)actual[i]).Raw);
                    break;
            }
        }
    }
}
