using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Tests;

public sealed class ReplyTests
{
    [Fact]
    public void FormatsSimpleReplies()
    {
        Assert.Equal("OK", Reply.Ok);
        Assert.Equal("", Reply.Empty);
        Assert.Equal("E01", Reply.Error(1));
        Assert.Equal("Eff", Reply.Error(255));
        Assert.Equal("E.no such register", Reply.ErrorMessage("no such register"));
        Assert.Equal("O68690a", Reply.Output("hi\n"));
        Assert.Equal("W00", Reply.Exited(0));
        Assert.Equal("X09", Reply.Terminated(9));
    }

    [Fact]
    public void RejectsErrorCodesThatDoNotFitTwoDigits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Reply.Error(256));
        Assert.Throws<ArgumentOutOfRangeException>(() => Reply.Error(-1));
    }

    [Theory]
    [InlineData(StopCause.None, 0UL, "T05thread:1;")]
    [InlineData(StopCause.SoftwareBreak, 0UL, "T05thread:1;swbreak:;")]
    [InlineData(StopCause.HardwareBreak, 0UL, "T05thread:1;hwbreak:;")]
    [InlineData(StopCause.Watch, 0x7fff1000UL, "T05thread:1;watch:7fff1000;")]
    [InlineData(StopCause.ReadWatch, 0x10UL, "T05thread:1;rwatch:10;")]
    [InlineData(StopCause.AccessWatch, 0xffffffff81000000UL, "T05thread:1;awatch:ffffffff81000000;")]
    [InlineData(StopCause.ReplayBegin, 0UL, "T05thread:1;replaylog:begin;")]
    [InlineData(StopCause.ReplayEnd, 0UL, "T05thread:1;replaylog:end;")]
    public void FormatsStopReplies(StopCause cause, ulong address, string expected) =>
        Assert.Equal(expected, Reply.StopReply(new StopReplyInfo(5, 1, cause, address)));

    [Fact]
    public void StopReplyThreadAndSignalAreHex() =>
        Assert.Equal("T02thread:1a;", Reply.StopReply(new StopReplyInfo(2, 26, StopCause.None)));

    [Fact]
    public void StopReplyNeedsARealThread() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Reply.StopReply(new StopReplyInfo(5, -1, StopCause.None)));

    [Fact]
    public void FormatsSupported()
    {
        Assert.Equal("PacketSize=4000;qXfer:features:read+;swbreak+", Reply.Supported(16384, ["qXfer:features:read+", "swbreak+"]));
        Assert.Equal("PacketSize=100", Reply.Supported(256, []));
    }

    [Theory]
    [InlineData(0UL, 4UL, "mabcd")]
    [InlineData(4UL, 4UL, "mefgh")]
    [InlineData(8UL, 4UL, "lij")]
    [InlineData(8UL, 2UL, "lij")]
    [InlineData(6UL, 100UL, "lghij")]
    [InlineData(0UL, 10UL, "labcdefghij")]
    [InlineData(10UL, 4UL, "l")]
    [InlineData(1000UL, 4UL, "l")]
    [InlineData(3UL, ulong.MaxValue, "ldefghij")]
    [InlineData(ulong.MaxValue, ulong.MaxValue, "l")]
    [InlineData(0UL, 0UL, "E00")]
    [InlineData(9UL, 0UL, "E00")]
    [InlineData(10UL, 0UL, "l")]
    public void ChunksXferReads(ulong offset, ulong length, string expected) =>
        Assert.Equal(expected, Reply.XferChunk("abcdefghij"u8, offset, length));

    [Fact]
    public void XferChunksReassembleTheDocument()
    {
        var document = Encoding.ASCII.GetBytes(X86Registers.Amd64.TargetXml());
        var rebuilt = new StringBuilder();
        ulong offset = 0;
        while (true)
        {
            var chunk = Reply.XferChunk(document, offset, 0xffb);
            rebuilt.Append(chunk, 1, chunk.Length - 1);
            offset += (ulong)(chunk.Length - 1);
            if (chunk[0] == 'l')
                break;
            Assert.Equal('m', chunk[0]);
        }
        Assert.Equal(X86Registers.Amd64.TargetXml(), rebuilt.ToString());
    }

    [Fact]
    public void XferChunkKeepsBinaryBytesOnePerChar()
    {
        var chunk = Reply.XferChunk(new byte[] { 0x00, (byte)'#', 0xff }, 0, 3);
        Assert.Equal(new byte[] { (byte)'l', 0x00, (byte)'#', 0xff }, Encoding.Latin1.GetBytes(chunk));
    }
}
