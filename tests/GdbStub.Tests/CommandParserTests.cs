using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class CommandParserTests
{
    private static GdbCommand Parse(string payload) => CommandParser.Parse(Encoding.Latin1.GetBytes(payload));

    [Theory]
    [InlineData("QStartNoAckMode", typeof(GdbCommand.StartNoAckMode))]
    [InlineData("vMustReplyEmpty", typeof(GdbCommand.MustReplyEmpty))]
    [InlineData("qAttached", typeof(GdbCommand.QueryAttached))]
    [InlineData("qAttached:1", typeof(GdbCommand.QueryAttached))]
    [InlineData("qC", typeof(GdbCommand.QueryCurrentThread))]
    [InlineData("?", typeof(GdbCommand.HaltReason))]
    [InlineData("qfThreadInfo", typeof(GdbCommand.ThreadInfoFirst))]
    [InlineData("qsThreadInfo", typeof(GdbCommand.ThreadInfoNext))]
    [InlineData("k", typeof(GdbCommand.Kill))]
    [InlineData("D", typeof(GdbCommand.Detach))]
    [InlineData("D;1", typeof(GdbCommand.Detach))]
    [InlineData("g", typeof(GdbCommand.ReadRegisters))]
    [InlineData("bc", typeof(GdbCommand.ReverseContinue))]
    [InlineData("bs", typeof(GdbCommand.ReverseStep))]
    [InlineData("vCont?", typeof(GdbCommand.VContQuery))]
    public void ParsesArgumentlessCommands(string payload, Type expected) =>
        Assert.IsType(expected, Parse(payload));

    [Fact]
    public void ParsesQSupportedFeatures()
    {
        var command = Assert.IsType<GdbCommand.QuerySupported>(Parse("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386"));
        Assert.Equal(["multiprocess+", "swbreak+", "hwbreak+", "xmlRegisters=i386"], command.Features);
        Assert.Empty(Assert.IsType<GdbCommand.QuerySupported>(Parse("qSupported")).Features);
    }

    [Theory]
    [InlineData("Hg1", 'g', 1L)]
    [InlineData("Hc-1", 'c', -1L)]
    [InlineData("Hg0", 'g', 0L)]
    [InlineData("Hgp1.2", 'g', 2L)]
    [InlineData("Hgp1.-1", 'g', -1L)]
    [InlineData("Hcp1", 'c', -1L)]
    [InlineData("Hg1f", 'g', 0x1fL)]
    public void ParsesSetThread(string payload, char operation, long thread) =>
        Assert.Equal(new GdbCommand.SetThread(operation, thread), Parse(payload));

    [Theory]
    [InlineData("T1", 1L)]
    [InlineData("Tp1.a", 10L)]
    public void ParsesThreadAlive(string payload, long thread) =>
        Assert.Equal(new GdbCommand.ThreadAlive(thread), Parse(payload));

    [Fact]
    public void ParsesRegisterAccess()
    {
        Assert.Equal(new byte[] { 0x01, 0x02, 0xff }, Assert.IsType<GdbCommand.WriteRegisters>(Parse("G0102ff")).Data);
        Assert.Equal(new GdbCommand.ReadRegister(0x10), Parse("p10"));
        var write = Assert.IsType<GdbCommand.WriteRegister>(Parse("P10=efbeadde00000000"));
        Assert.Equal(0x10, write.Number);
        Assert.Equal(new byte[] { 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0 }, write.Value);
    }

    [Fact]
    public void ParsesMemoryAccess()
    {
        Assert.Equal(new GdbCommand.ReadMemory(0xffffffff81000000, 0x40), Parse("mffffffff81000000,40"));
        var hex = Assert.IsType<GdbCommand.WriteMemory>(Parse("M1000,2:abcd"));
        Assert.Equal(0x1000UL, hex.Address);
        Assert.Equal(new byte[] { 0xab, 0xcd }, hex.Data);
    }

    [Fact]
    public void ParsesBinaryWrite()
    {
        // The decoder has already unescaped; the data may hold any byte, including ':' and '#'.
        var payload = Encoding.ASCII.GetBytes("X2000,5:").Concat(new byte[] { 0x00, (byte)':', (byte)'#', 0xff, (byte)'}' }).ToArray();
        var write = Assert.IsType<GdbCommand.WriteMemory>(CommandParser.Parse(payload));
        Assert.Equal(0x2000UL, write.Address);
        Assert.Equal(new byte[] { 0x00, (byte)':', (byte)'#', 0xff, (byte)'}' }, write.Data);
    }

    [Fact]
    public void AnEmptyBinaryWriteIsAProbe()
    {
        var write = Assert.IsType<GdbCommand.WriteMemory>(Parse("X0,0:"));
        Assert.Empty(write.Data);
    }

    [Theory]
    [InlineData("c", null)]
    [InlineData("c401000", 0x401000UL)]
    public void ParsesContinue(string payload, ulong? address) =>
        Assert.Equal(new GdbCommand.Continue(address), Parse(payload));

    [Theory]
    [InlineData("s", null)]
    [InlineData("sfff0", 0xfff0UL)]
    public void ParsesStep(string payload, ulong? address) =>
        Assert.Equal(new GdbCommand.Step(address), Parse(payload));

    [Fact]
    public void ParsesVCont()
    {
        Assert.Equal([new VContAction('c', null)], Actions("vCont;c"));
        Assert.Equal([new VContAction('s', 1), new VContAction('c', null)], Actions("vCont;s:1;c"));
        Assert.Equal([new VContAction('t', null)], Actions("vCont;t"));
        Assert.Equal([new VContAction('r', null, 0x1000, 0x1010)], Actions("vCont;r1000,1010"));
        Assert.Equal([new VContAction('r', 2, 0x1000, 0x1010), new VContAction('c', -1)], Actions("vCont;r1000,1010:2;c:-1"));
        Assert.Equal([new VContAction('C', 1), new VContAction('S', null)], Actions("vCont;C0b:1;S05"));
        Assert.Equal([new VContAction('s', 3)], Actions("vCont;s:p1.3"));
    }

    private static IReadOnlyList<VContAction> Actions(string payload) => Assert.IsType<GdbCommand.VCont>(Parse(payload)).Actions;

    [Theory]
    [InlineData("Z0,401000,1", PointKind.Software, 0x401000UL, 1)]
    [InlineData("Z1,401000,1", PointKind.Hardware, 0x401000UL, 1)]
    [InlineData("Z2,7fff0000,8", PointKind.Write, 0x7fff0000UL, 8)]
    [InlineData("Z3,10,4", PointKind.Read, 0x10UL, 4)]
    [InlineData("Z4,10,2", PointKind.Access, 0x10UL, 2)]
    [InlineData("Z0,401000,1;X3,220027", PointKind.Software, 0x401000UL, 1)]
    [InlineData("Z0,401000,1;cmds:0,X3,220027", PointKind.Software, 0x401000UL, 1)]
    public void ParsesInsertPoint(string payload, PointKind kind, ulong address, int size)
    {
        Assert.Equal(new GdbCommand.InsertPoint(kind, address, size), Parse(payload));
        Assert.Equal(new GdbCommand.RemovePoint(kind, address, size), Parse("z" + payload[1..]));
    }

    [Fact]
    public void ParsesMonitorCommand() =>
        Assert.Equal(new GdbCommand.MonitorCommand("seek 100"), Parse("qRcmd," + Hex.Encode("seek 100"u8)));

    [Fact]
    public void ParsesXferRead()
    {
        Assert.Equal(new GdbCommand.XferRead("features", "target.xml", 0, 0xffb), Parse("qXfer:features:read:target.xml:0,ffb"));
        Assert.Equal(new GdbCommand.XferRead("memory-map", "", 0x100, 0x200), Parse("qXfer:memory-map:read::100,200"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("qTStatus")]
    [InlineData("vFile:open:6a7573742070726f62696e67,0,1c0")]
    [InlineData("qSymbol::")]
    [InlineData("qOffsets")]
    [InlineData("vKill;1")]
    [InlineData("QNonStop:0")]
    [InlineData("qXfer:features:write:target.xml:0:abc")]
    [InlineData("bx")]
    [InlineData("C05")]
    [InlineData("!")]
    [InlineData("qSupportedX")]
    public void UnimplementedPacketsAreUnknown(string payload) =>
        Assert.Equal(new GdbCommand.Unknown(payload), Parse(payload));

    [Theory]
    [InlineData("m12,zz")]
    [InlineData("m12")]
    [InlineData("m,4")]
    [InlineData("m1,80000000")]
    [InlineData("m11111111111111111,4")]
    [InlineData("Z9,0,1")]
    [InlineData("Z0,0")]
    [InlineData("Z0")]
    [InlineData("z5,0,1")]
    [InlineData("p")]
    [InlineData("pzz")]
    [InlineData("P1")]
    [InlineData("P1=")]
    [InlineData("P1=abc")]
    [InlineData("Mxx")]
    [InlineData("M0,2:ab")]
    [InlineData("M0,1:zz")]
    [InlineData("X0,2:a")]
    [InlineData("X0,2")]
    [InlineData("G")]
    [InlineData("G0")]
    [InlineData("H")]
    [InlineData("Hg")]
    [InlineData("Hgx")]
    [InlineData("Hgp1.")]
    [InlineData("T")]
    [InlineData("T-2")]
    [InlineData("cxyz")]
    [InlineData("s-1")]
    [InlineData("g1")]
    [InlineData("?x")]
    [InlineData("kk")]
    [InlineData("D1x")]
    [InlineData("vCont")]
    [InlineData("vCont;")]
    [InlineData("vCont;x")]
    [InlineData("vCont;c:")]
    [InlineData("vCont;r1000")]
    [InlineData("vCont;C5")]
    [InlineData("vCont;c;;s")]
    [InlineData("qRcmd,7")]
    [InlineData("qXfer:features:read:target.xml:0")]
    [InlineData("qXfer:features:read:target.xml:x,1")]
    [InlineData("qAttached:zz")]
    public void BadArgumentsAreMalformed(string payload)
    {
        var malformed = Assert.IsType<GdbCommand.Malformed>(Parse(payload));
        Assert.Equal(payload, malformed.Payload);
        Assert.False(string.IsNullOrEmpty(malformed.Reason));
    }

    [Fact]
    public void NeverThrowsOnRandomPayloads()
    {
        var random = new Random(20240601);
        var prefixes = new[]
        {
            "", "m", "M", "X", "p", "P", "G", "g", "H", "Hg", "Hgp", "T", "c", "s", "Z", "z", "Z0,", "z2,", "D", "D;",
            "vCont", "vCont;", "vCont;r", "vCont;s:", "qSupported:", "qRcmd,", "qXfer:", "qXfer:features:read:", "qAttached:", "b", "?", "k",
        };
        const string alphabet = "0123456789abcdefABCDEF,:;=.-p$#}*xX\0\u00ff ";
        for (var n = 0; n < 10_000; n++)
        {
            byte[] payload;
            if (n % 3 == 0)
            {
                payload = new byte[random.Next(0, 40)];
                random.NextBytes(payload);
            }
            else
            {
                var text = new StringBuilder(prefixes[random.Next(prefixes.Length)]);
                var extra = random.Next(0, 30);
                for (var i = 0; i < extra; i++)
                    text.Append(alphabet[random.Next(alphabet.Length)]);
                payload = Encoding.Latin1.GetBytes(text.ToString());
            }
            var command = CommandParser.Parse(payload);
            Assert.NotNull(command);
        }
    }
}
