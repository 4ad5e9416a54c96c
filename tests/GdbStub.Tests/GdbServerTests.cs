using System.Net;
using System.Net.Sockets;
using System.Text;
using VmReplay.GdbStub.Protocol;
using VmReplay.GdbStub.Transport;

namespace VmReplay.GdbStub.Tests;

public sealed class GdbServerTests
{
    // Generous: these bound how long a broken server can stall a test, not how fast a good one must be.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private const int ReadTimeoutMs = 5000;

    private static byte[] Frame(string payload) => PacketEncoder.Encode(Encoding.Latin1.GetBytes(payload));

    // The protocol core's decoder undoes escaping and run-length encoding and checks the checksum.
    private static string Decode(byte[] frame)
    {
        var decoder = new PacketDecoder(1 << 20);
        decoder.Feed(frame);
        Assert.True(decoder.TryTake(out var item));
        Assert.False(decoder.TryTake(out _));
        return Encoding.Latin1.GetString(Assert.IsType<Incoming.Packet>(item).Payload);
    }

    [Fact]
    public async Task APacketIsAckedAndAnsweredWithAValidChecksum()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();

        client.Send("qSupported:swbreak+");

        Assert.Equal((byte)'+', client.ReadByte());
        var frame = client.ReadFrame();
        var body = frame[1..^3];
        var sent = Hex.DigitValue((char)frame[^2]) << 4 | Hex.DigitValue((char)frame[^1]);
        Assert.Equal(Checksum.Of(body), sent);
        var expected = Assert.Single(new GdbSession(server.Target).Handle(new GdbCommand.QuerySupported(["swbreak+"])));
        Assert.Equal(expected, Decode(frame));
    }

    [Fact]
    public async Task ALongReplyIsRunLengthEncodedAndDecodesToTheTargetXml()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();

        client.Send($"qXfer:features:read:target.xml:0,{GdbSession.MaxPacketSize:x}");

        Assert.Equal((byte)'+', client.ReadByte());
        var frame = client.ReadFrame();
        var reply = Decode(frame);
        Assert.Equal('l', reply[0]);
        Assert.Equal(server.Target.Registers.TargetXml(), Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(reply[1..])));
        // target.xml is indented with runs of spaces: a server that stopped compressing would send more.
        Assert.True(frame.Length < reply.Length, $"a frame of {frame.Length} bytes for {reply.Length} chars");
    }

    [Fact]
    public async Task NoAckIsSentAfterStartNoAckMode()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();

        // The OK itself is still acked: gdb switches only once it has read it.
        Assert.Equal(Reply.Ok, client.Exchange("QStartNoAckMode"));
        client.AckMode = false;

        // A stray '+' would arrive before the reply: the stream is ordered.
        Assert.Equal("T05thread:1;", client.Exchange("?"));
        server.Target.Map(0x1000, 0x42);
        Assert.Equal("42", client.Exchange("m1000,1"));
    }

    [Fact]
    public async Task ABadChecksumIsNackedAndTheNextPacketIsServed()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();

        client.SendRaw("$qSupported#00"u8.ToArray());

        Assert.IsType<Incoming.Nack>(client.Next());
        server.WaitForLog("bad checksum");
        Assert.Equal("T05thread:1;", client.Exchange("?"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnOversizedPacketIsAnsweredWithAnErrorAndTheConnectionKeepsWorking(bool ackMode)
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();
        if (!ackMode)
        {
            Assert.Equal(Reply.Ok, client.Exchange("QStartNoAckMode"));
            client.AckMode = false;
        }

        client.SendRaw(Frame("m" + new string('0', GdbSession.MaxPacketSize)));

        // In ack mode the ack must come first, or gdb would throw the error away as a stale reply while it waits for it.
        if (ackMode)
            Assert.IsType<Incoming.Ack>(client.Next());
        Assert.Equal("E16", client.NextPacket());
        server.WaitForLog("exceeds");
        Assert.Equal("T05thread:1;", client.Exchange("?"));
    }

    [Fact]
    public async Task CtrlCInterruptsARunningTarget()
    {
        await using var server = ServerHarness.Start(reattach: false);
        server.Target.BlockInResume = true;
        using var client = server.Connect();

        client.SendRaw("$c#63"u8.ToArray());
        Assert.IsType<Incoming.Ack>(client.Next());
        Assert.True(server.Target.WaitForResume(Patience), "the session never resumed the target");
        Assert.Equal(0, server.Target.InterruptRequests);

        client.SendRaw([0x03]);

        Assert.Equal("T02thread:1;", client.NextPacket());
        client.SendRaw("+"u8.ToArray());
        Assert.Equal(1, server.Target.InterruptRequests);
        Assert.Equal([Motion.Continue], server.Target.Motions);
        server.Target.BlockInResume = false;
        Assert.Equal("T05thread:1;swbreak:;", client.Exchange("s"));
    }

    [Fact]
    public async Task AClientLostMidPacketIsLoggedAndTheNextClientIsServed()
    {
        await using var server = ServerHarness.Start(reattach: true);
        using (var first = server.Connect())
        {
            first.SendRaw("$qSupp"u8.ToArray());
        }

        server.WaitForLog("in the middle of a packet");

        using var second = server.Connect();
        Assert.Contains("ReverseContinue+", second.Exchange("qSupported"));
        Assert.Equal("T05thread:1;swbreak:;", second.Exchange("c"));
        second.Send("k");
        Assert.IsType<Incoming.Ack>(second.Next());
        Assert.True(await server.Result());
    }

    [Fact]
    public async Task WithoutReattachServeReturnsFalseWhenTheClientIsLost()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using (var client = server.Connect())
        {
            client.SendRaw("$qSupp"u8.ToArray());
        }

        Assert.False(await server.Result());
        server.WaitForLog("in the middle of a packet");
    }

    [Fact]
    public async Task WithoutReattachServeReturnsFalseAfterADetach()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();

        Assert.Equal(Reply.Ok, client.Exchange("D"));

        Assert.False(await server.Result());
        Assert.True(client.AtEndOfStream());
    }

    [Fact]
    public async Task KillMakesServeReturnTrue()
    {
        await using var server = ServerHarness.Start(reattach: true);
        using var client = server.Connect();

        client.Send("k");

        Assert.IsType<Incoming.Ack>(client.Next());
        Assert.True(await server.Result());
        Assert.True(client.AtEndOfStream());
    }

    [Fact]
    public async Task AClientThatDoesNotReadItsRepliesIsHeldBackInsteadOfQueuedWithoutEnd()
    {
        await using var server = ServerHarness.Start(reattach: false);
        using var client = server.Connect();
        // 64 MiB of m requests, sent without reading a reply: the stub stops reading once its
        // replies back up, so the sender's socket stops taking bytes long before all are sent.
        var request = Frame("m1000,4");
        var burst = new byte[request.Length * 4096];
        for (var i = 0; i < 4096; i++)
            request.CopyTo(burst, i * request.Length);
        const long total = 64L << 20;
        var sent = client.SendUntilRefused(burst, total, TimeSpan.FromSeconds(1));
        Assert.True(sent < total / 4, $"the stub took {sent} of {total} bytes from a client that read no reply");
    }

    /// <summary>A server on a loopback port of the system's choosing, serving on its own thread, torn down in order.</summary>
    private sealed class ServerHarness : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cancel = new();
        // Not a disposable collection: the connection's reader thread may still log after Serve returns.
        private readonly List<string> _log = [];
        private Task<bool> _serving = Task.FromResult(false);

        private ServerHarness()
        {
            Server = new GdbServer(Target, new IPEndPoint(IPAddress.Loopback, 0)) { Log = Record };
        }

        public FakeTarget Target { get; } = new();

        public GdbServer Server { get; }

        public static ServerHarness Start(bool reattach)
        {
            var harness = new ServerHarness();
            harness.Server.Start();
            // Serve blocks in accept and in Resume: a thread of its own keeps it off the pool the tests share.
            harness._serving = Task.Factory.StartNew(
                () => harness.Server.Serve(reattach, harness._cancel.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return harness;
        }

        public TestClient Connect() => new(Server.LocalEndpoint);

        /// <summary>What Serve returned; a server that does not return in time fails the test.</summary>
        public Task<bool> Result() => _serving.WaitAsync(Patience);

        /// <summary>Blocks until a log line containing <paramref name="text"/> has arrived.</summary>
        public void WaitForLog(string text)
        {
            var deadline = DateTime.UtcNow + Patience;
            lock (_log)
            {
                while (!_log.Any(line => line.Contains(text, StringComparison.Ordinal)))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(_log, left))
                        Assert.Fail($"no log line containing '{text}'; logged: [{string.Join(" | ", _log)}]");
                }
            }
        }

        private void Record(string line)
        {
            lock (_log)
            {
                _log.Add(line);
                Monitor.PulseAll(_log);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _cancel.Cancel();
            // A target blocked in Resume would hold Serve past the cancellation.
            Target.RequestInterrupt();
            try
            {
                await _serving.WaitAsync(Patience);
            }
            finally
            {
                Server.Dispose();
                Target.Dispose();
                _cancel.Dispose();
            }
        }
    }

    /// <summary>The gdb side of a connection, decoding what arrives with the protocol core's own decoder.</summary>
    private sealed class TestClient : IDisposable
    {
        private readonly TcpClient _tcp = new() { NoDelay = true, ReceiveTimeout = ReadTimeoutMs, SendTimeout = ReadTimeoutMs };
        private readonly NetworkStream _stream;
        private readonly PacketDecoder _decoder = new(1 << 20);
        private readonly byte[] _buffer = new byte[4096];

        public TestClient(IPEndPoint endpoint)
        {
            _tcp.Connect(endpoint);
            _stream = _tcp.GetStream();
        }

        /// <summary>Whether to expect '+' for each packet and send '+' for each reply, as gdb does until QStartNoAckMode.</summary>
        public bool AckMode { get; set; } = true;

        public void SendRaw(byte[] bytes) => _stream.Write(bytes);

        /// <summary>
        /// Sends <paramref name="burst"/> again and again without blocking until <paramref name="total"/>
        /// bytes went out or the socket took nothing for <paramref name="stall"/>; returns the bytes sent.
        /// </summary>
        public long SendUntilRefused(byte[] burst, long total, TimeSpan stall)
        {
            var socket = _tcp.Client;
            socket.Blocking = false;
            long sent = 0;
            var lastProgress = DateTime.UtcNow;
            while (sent < total && DateTime.UtcNow - lastProgress < stall)
            {
                var n = socket.Send(burst, 0, burst.Length, SocketFlags.None, out var error);
                if (n > 0)
                {
                    sent += n;
                    lastProgress = DateTime.UtcNow;
                }
                else if (error == SocketError.WouldBlock)
                    Thread.Sleep(10);
                else
                    throw new SocketException((int)error);
            }
            socket.Blocking = true;
            return sent;
        }

        public void Send(string payload) => SendRaw(Frame(payload));

        /// <summary>One byte, undecoded; only for a test that reads the framing itself.</summary>
        public byte ReadByte()
        {
            var b = _stream.ReadByte();
            if (b < 0) throw new EndOfStreamException("the server closed the connection");
            return (byte)b;
        }

        /// <summary>The bytes of one packet, '$' to the last checksum digit, as sent.</summary>
        public byte[] ReadFrame()
        {
            var frame = new List<byte> { ReadByte() };
            Assert.Equal((byte)'$', frame[0]);
            while (frame[^1] != '#')
                frame.Add(ReadByte());
            frame.Add(ReadByte());
            frame.Add(ReadByte());
            return [.. frame];
        }

        public Incoming Next()
        {
            Incoming item;
            while (!_decoder.TryTake(out item))
            {
                // ReceiveTimeout turns a silent server into an IOException instead of a hang.
                var n = _stream.Read(_buffer);
                if (n == 0) throw new EndOfStreamException("the server closed the connection");
                _decoder.Feed(_buffer.AsSpan(0, n));
            }
            return item;
        }

        public string NextPacket()
        {
            var item = Next();
            var packet = Assert.IsType<Incoming.Packet>(item);
            return Encoding.Latin1.GetString(packet.Payload);
        }

        /// <summary>Sends one packet and returns the one reply, checking the acks the mode calls for.</summary>
        public string Exchange(string payload)
        {
            Send(payload);
            if (AckMode)
                Assert.IsType<Incoming.Ack>(Next());
            var reply = NextPacket();
            if (AckMode) SendRaw("+"u8.ToArray());
            return reply;
        }

        /// <summary>True once the server has closed its end and nothing more is to come.</summary>
        public bool AtEndOfStream()
        {
            if (_decoder.TryTake(out var pending))
                Assert.Fail($"unexpected {pending} before the end of the stream");
            var n = _stream.Read(_buffer);
            return n == 0;
        }

        public void Dispose() => _tcp.Dispose();
    }
}
