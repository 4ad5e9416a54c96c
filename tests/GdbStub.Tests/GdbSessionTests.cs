using System.Globalization;
using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class GdbSessionTests : IDisposable
{
    private readonly FakeTarget _target = new();
    private readonly GdbSession _session;

    public GdbSessionTests() => _session = new GdbSession(_target);

    public void Dispose() => _target.Dispose();

    // Through the parser, as the transport does, so the tests speak the packets gdb sends.
    private IReadOnlyList<string> Send(string payload) => _session.Handle(CommandParser.Parse(Encoding.Latin1.GetBytes(payload)));

    private string SendOne(string payload) => Assert.Single(Send(payload));

    [Fact]
    public void QSupportedAnnouncesPacketSizeAndFeatures()
    {
        var features = SendOne("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386").Split(';');

        var packetSize = Assert.Single(features, f => f.StartsWith("PacketSize=", StringComparison.Ordinal));
        Assert.Equal(GdbSession.MaxPacketSize, int.Parse(packetSize["PacketSize=".Length..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.Contains("qXfer:features:read+", features);
        Assert.Contains("QStartNoAckMode+", features);
        Assert.Contains("ReverseStep+", features);
        Assert.Contains("ReverseContinue+", features);
    }

    [Fact]
    public void StartNoAckModeAnswersOkAndSetsNoAck()
    {
        Assert.False(_session.NoAck);
        Assert.Equal(Reply.Ok, SendOne("QStartNoAckMode"));
        Assert.True(_session.NoAck);
    }

    [Theory]
    [InlineData("qAttached", "1")]
    [InlineData("qC", "QC1")]
    [InlineData("qfThreadInfo", "m1")]
    [InlineData("qsThreadInfo", "l")]
    [InlineData("Hg0", "OK")]
    [InlineData("Hc-1", "OK")]
    [InlineData("Hg2", "E16")]
    [InlineData("T1", "OK")]
    [InlineData("T2", "E16")]
    [InlineData("vMustReplyEmpty", "")]
    [InlineData("vCont?", "vCont;c;C;s;S;t")]
    public void AnswersTheSingleThreadQueries(string payload, string expected) =>
        Assert.Equal(expected, SendOne(payload));

    [Theory]
    [InlineData("i386")]
    [InlineData("i386:x86-64")]
    public void TargetXmlChunksReassembleToTheLayoutDescription(string architecture)
    {
        using var target = new FakeTarget(architecture == "i386" ? X86Registers.I386 : X86Registers.Amd64);
        var session = new GdbSession(target);
        var document = new StringBuilder();
        var chunks = 0;
        while (true)
        {
            // A small window forces several m-chunks, as gdb does with a short PacketSize.
            var reply = Assert.Single(session.Handle(CommandParser.Parse(Encoding.Latin1.GetBytes(
                $"qXfer:features:read:target.xml:{document.Length:x},200"))));
            chunks++;
            Assert.True(reply[0] is 'm' or 'l', $"reply '{reply}' is neither m nor l");
            document.Append(reply.AsSpan(1));
            if (reply[0] == 'l')
                break;
            Assert.True(chunks < 1000, "the chunks never end");
        }

        Assert.True(chunks > 1);
        var xml = Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(document.ToString()));
        Assert.Equal(target.Registers.TargetXml(), xml);
        Assert.Contains($"<architecture>{architecture}</architecture>", xml);
    }

    [Fact]
    public void XferPastTheEndAndOfOtherDocumentsAnswerAsGdbExpects()
    {
        var size = Encoding.UTF8.GetByteCount(_target.Registers.TargetXml());
        Assert.Equal("l", SendOne($"qXfer:features:read:target.xml:{size:x},100"));
        Assert.Equal("E00", SendOne("qXfer:features:read:target.xml:0,0"));
        Assert.Equal("E00", SendOne("qXfer:features:read:other.xml:0,100"));
        Assert.Equal("E00", SendOne("qXfer:libraries:read::0,100"));
    }

    [Theory]
    [InlineData("i386", "eip")]
    [InlineData("i386:x86-64", "rip")]
    public void GReturnsEveryRegisterWithThePc(string architecture, string pcName)
    {
        using var target = new FakeTarget(architecture == "i386" ? X86Registers.I386 : X86Registers.Amd64);
        var session = new GdbSession(target);
        var layout = target.Registers;

        var reply = Assert.Single(session.Handle(new GdbCommand.ReadRegisters()));

        Assert.Equal(2 * layout.GPacketSize, reply.Length);
        var pc = layout.Find(pcName)!;
        var offset = layout.All.Take(pc.Number).Sum(r => r.ByteSize);
        var expected = Hex.Encode(BitConverter.GetBytes(FakeTarget.ProgramCounter).AsSpan(0, pc.ByteSize));
        Assert.Equal(expected, reply.Substring(2 * offset, 2 * pc.ByteSize));
        Assert.Equal(new string('0', 2 * offset), reply[..(2 * offset)]);
    }

    [Fact]
    public void PReadsOneRegisterAndRefusesNumbersOutOfRange()
    {
        var rip = _target.Registers.Find("rip")!;
        Assert.Equal("0df0feca00000000", SendOne($"p{rip.Number:x}"));
        Assert.Equal("0000000000000000", SendOne("p0"));
        Assert.Equal(new string('0', 2 * _target.Registers.All[^1].ByteSize), SendOne($"p{_target.Registers.All.Count - 1:x}"));
        Assert.Equal("E16", SendOne($"p{_target.Registers.All.Count:x}"));
        Assert.Equal("E16", SendOne("pffff"));
    }

    [Theory]
    [InlineData("G00112233")]
    [InlineData("P10=0000000000000000")]
    [InlineData("M1000,2:abcd")]
    [InlineData("X1000,2:\u00ab\u00cd")]
    [InlineData("X1000,0:")]
    public void WritesAreRefusedWithTheTargetsReason(string payload)
    {
        _target.Map(0x1000, 1, 2);
        Assert.Equal("E.the recording is read-only", SendOne(payload));

        _target.WriteRefusal = null;
        Assert.Equal("E01", SendOne(payload));
    }

    [Fact]
    public void MReadsMappedMemoryAndRefusesUnmapped()
    {
        _target.Map(0x1000, 0xde, 0xad, 0xbe, 0xef, 0x01);

        Assert.Equal("deadbeef", SendOne("m1000,4"));
        Assert.Equal("ef01", SendOne("m1003,8"));
        Assert.Equal("E16", SendOne("m1000,0"));
        Assert.Equal("E16", SendOne("m2000,0"));
        Assert.Equal("E0e", SendOne("m2000,4"));
        Assert.Equal("E0e", SendOne("m0fff,4"));
    }

    [Fact]
    public void MReadsNoMoreThanFitsInOnePacket()
    {
        _target.Map(0x1000, new byte[GdbSession.MaxPacketSize]);

        var reply = SendOne("m1000,10000");

        Assert.True(reply.Length <= GdbSession.MaxPacketSize, $"a reply of {reply.Length} chars");
        Assert.Equal(reply.Length / 2, _target.LastReadLength);
    }

    [Theory]
    [InlineData("c", Motion.Continue)]
    [InlineData("s", Motion.Step)]
    [InlineData("bc", Motion.ReverseContinue)]
    [InlineData("bs", Motion.ReverseStep)]
    [InlineData("vCont;c", Motion.Continue)]
    [InlineData("vCont;s", Motion.Step)]
    [InlineData("vCont;c:1", Motion.Continue)]
    [InlineData("vCont;C05", Motion.Continue)]
    [InlineData("vCont;s:1;c", Motion.Step)]
    [InlineData("vCont;c:p1.1", Motion.Continue)]
    [InlineData("vCont;s:2;c", Motion.Continue)]
    public void ResumesWithTheRightMotionAndAnswersWithAStopReply(string payload, Motion motion)
    {
        _target.NextStop = new TargetStop(StopCause.SoftwareBreak);

        Assert.Equal("T05thread:1;swbreak:;", SendOne(payload));
        Assert.Equal([motion], _target.Motions);
    }

    [Theory]
    [InlineData(StopCause.None, 0ul, 5, "T05thread:1;")]
    [InlineData(StopCause.HardwareBreak, 0ul, 5, "T05thread:1;hwbreak:;")]
    [InlineData(StopCause.Watch, 0x1234ul, 5, "T05thread:1;watch:1234;")]
    [InlineData(StopCause.ReadWatch, 0x10ul, 5, "T05thread:1;rwatch:10;")]
    [InlineData(StopCause.AccessWatch, 0xfful, 5, "T05thread:1;awatch:ff;")]
    [InlineData(StopCause.ReplayBegin, 0ul, 5, "T05thread:1;replaylog:begin;")]
    [InlineData(StopCause.ReplayEnd, 0ul, 5, "T05thread:1;replaylog:end;")]
    [InlineData(StopCause.None, 0ul, 2, "T02thread:1;")]
    public void StopRepliesCarryTheCause(StopCause cause, ulong watchAddress, int signal, string expected)
    {
        _target.NextStop = new TargetStop(cause, watchAddress, signal);
        Assert.Equal(expected, SendOne("bc"));

        _target.CurrentStop = _target.NextStop;
        Assert.Equal(expected, SendOne("?"));
    }

    [Theory]
    [InlineData("c")]
    [InlineData("bc")]
    [InlineData("vCont;c")]
    public void AStopWithAMessageSendsItAsConsoleOutputBeforeTheStopReplyOnce(string payload)
    {
        _target.NextStop = new TargetStop(StopCause.Watch, 0x1234, Message: "written by the VMM");
        Assert.Equal([Reply.Output("written by the VMM\n"), "T05thread:1;watch:1234;"], Send(payload));

        _target.CurrentStop = _target.NextStop;
        Assert.Equal("T05thread:1;watch:1234;", SendOne("?"));
    }

    [Fact]
    public void VContStopAndActionsForOtherThreadsDoNotResume()
    {
        Assert.Equal("T00thread:1;", SendOne("vCont;t"));
        Assert.Equal("E16", SendOne("vCont;c:2"));
        Assert.Empty(_target.Motions);
    }

    [Fact]
    public void BreakAndWatchPointsGoToTheTarget()
    {
        Assert.Equal(Reply.Ok, SendOne("Z0,1000,1"));
        Assert.Equal(Reply.Ok, SendOne("z0,1000,1"));
        Assert.Equal(Reply.Ok, SendOne("Z1,2000,1;X2,ab"));
        Assert.Equal(Reply.Ok, SendOne("Z2,3000,4"));

        Assert.Equal(
            [(true, PointKind.Software, 0x1000ul, 1), (false, PointKind.Software, 0x1000ul, 1),
             (true, PointKind.Hardware, 0x2000ul, 1), (true, PointKind.Write, 0x3000ul, 4)],
            _target.PointCalls);
    }

    [Fact]
    public void APointTheTargetCannotSetIsAnErrorWithItsReason()
    {
        _target.PointError = "no debug register left";

        Assert.Equal("E.no debug register left", SendOne("Z1,1000,1"));
        Assert.Equal("E.no debug register left", SendOne("z1,1000,1"));
    }

    [Theory]
    [InlineData("Z3,1000,4")]
    [InlineData("z3,1000,4")]
    [InlineData("Z4,1000,4")]
    public void UnsupportedPointKindsAnswerEmptyWithoutAskingTheTarget(string payload)
    {
        Assert.Equal("", SendOne(payload));
        Assert.Empty(_target.PointCalls);
    }

    [Fact]
    public void MonitorOutputIsHexEncodedInAnOPacketFollowedByOk()
    {
        var replies = Send("qRcmd," + Hex.Encode(Encoding.UTF8.GetBytes("info position")));

        Assert.Equal(["O" + Hex.Encode(Encoding.UTF8.GetBytes("replay at instruction 42\n")), Reply.Ok], replies);
        Assert.Equal(["info position"], _target.MonitorCommands);
    }

    [Fact]
    public void MonitorOutputEndingInANewlineIsNotGivenAnother()
    {
        _target.MonitorOutput = "line one\nline two\n";

        var replies = Send("qRcmd," + Hex.Encode("help"u8));

        Assert.Equal(["O" + Hex.Encode("line one\nline two\n"u8), Reply.Ok], replies);
    }

    [Fact]
    public void KillEndsTheSessionWithoutAReply()
    {
        Assert.Empty(Send("k"));
        Assert.True(_session.Killed);
        Assert.True(_session.Ended);
    }

    [Theory]
    [InlineData("D")]
    [InlineData("D;1")]
    public void DetachAnswersOkAndEndsWithoutKilling(string payload)
    {
        Assert.Equal(Reply.Ok, SendOne(payload));
        Assert.True(_session.Ended);
        Assert.False(_session.Killed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("qFooBar")]
    [InlineData("vFile:open:2f6574632f706173737764,0,0")]
    [InlineData("QPassSignals:e;10")]
    [InlineData("bx")]
    [InlineData("!")]
    [InlineData("qXfer:features:write:target.xml:0:abcd")]
    public void UnknownPacketsAnswerEmpty(string payload) =>
        Assert.Equal(Reply.Empty, SendOne(payload));

    [Theory]
    [InlineData("m12")]
    [InlineData("mzz,4")]
    [InlineData("pzz")]
    [InlineData("Hgzz")]
    [InlineData("g1")]
    [InlineData("?x")]
    [InlineData("cxyz")]
    [InlineData("Z9,1000,1")]
    [InlineData("Z0;1000")]
    [InlineData("vCont;x")]
    [InlineData("vCont;")]
    [InlineData("qRcmd,abc")]
    [InlineData("qXfer:features:read:target.xml:zz")]
    [InlineData("G123")]
    public void MalformedPacketsAnswerAnErrorAndTheSessionKeepsWorking(string payload)
    {
        _target.Map(0x1000, 0x90);

        Assert.Equal("E16", SendOne(payload));

        Assert.False(_session.Ended);
        Assert.Equal("90", SendOne("m1000,1"));
        Assert.Equal(2 * _target.Registers.GPacketSize, SendOne("g").Length);
        Assert.Empty(_target.Motions);
        Assert.Empty(_target.PointCalls);
    }
}
