using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.GdbStub.Transport;

/// <summary>
/// Serves the GDB remote protocol over TCP for one <see cref="IDebugTarget"/>, one connection at
/// a time. A reader thread decodes bytes as they arrive, so a Ctrl-C (0x03) reaches the target
/// while it runs; the session's replies are framed and written here.
/// </summary>
public sealed class GdbServer(IDebugTarget target, IPEndPoint endpoint) : IDisposable
{
    private readonly TcpListener _listener = new(endpoint);

    /// <summary>Where the server listens (with the port the system chose when 0 was asked).</summary>
    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Problems with a connection (garbage, checksum errors, a dropped client), one line each.</summary>
    public Action<string>? Log { get; set; }

    public void Start() => _listener.Start(1);

    /// <summary>
    /// Serves connections until gdb kills the target, or after the first connection ends when
    /// <paramref name="reattach"/> is false. Returns true when gdb killed the target.
    /// </summary>
    public bool Serve(bool reattach, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            TcpClient client;
            try { client = _listener.AcceptTcpClientAsync(cancel).AsTask().GetAwaiter().GetResult(); }
            catch (OperationCanceledException) { return false; }
            using (client)
            {
                client.NoDelay = true;
                var session = new GdbSession(target);
                ServeConnection(client.GetStream(), session, cancel);
                if (session.Killed) return true;
            }
            if (!reattach) return false;
        }
        return false;
    }

    private void ServeConnection(NetworkStream stream, GdbSession session, CancellationToken cancel)
    {
        var decoder = new PacketDecoder(GdbSession.MaxPacketSize);
        // Bounded: a client that sends requests without reading the replies finds the reader
        // stopped once this many wait, and TCP holds back the rest (backpressure), instead of
        // the stub queueing without end. gdb itself never has more than one packet in flight.
        var incoming = new BlockingCollection<Incoming>(MaxPendingPackets);
        using var connectionOver = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        bool noAck = false;
        var reader = new Thread(() =>
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    int n = stream.Read(buffer);
                    if (n <= 0) break;
                    decoder.Feed(buffer.AsSpan(0, n));
                    while (decoder.TryTake(out var item))
                    {
                        // Ctrl-C must reach the target while the session is blocked in Resume.
                        if (item is Incoming.Interrupt) target.RequestInterrupt();
                        else incoming.Add(item, connectionOver.Token);
                    }
                }
                if (decoder.InPacket) Log?.Invoke("gdb disconnected in the middle of a packet");
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
            catch (OperationCanceledException) { }
            finally { incoming.CompleteAdding(); }
        }) { IsBackground = true, Name = "gdb connection reader" };
        reader.Start();
        try
        {
            foreach (var item in incoming.GetConsumingEnumerable(cancel))
            {
                switch (item)
                {
                    case Incoming.Packet p:
                        if (!noAck) stream.WriteByte((byte)'+');
                        var command = CommandParser.Parse(p.Payload);
                        if (command is GdbCommand.Malformed bad)
                            Log?.Invoke($"malformed packet '{Printable(bad.Payload)}': {bad.Reason}");
                        foreach (var reply in session.Handle(command))
                            stream.Write(PacketEncoder.Encode(Encoding.Latin1.GetBytes(reply), runLength: reply.Length > 64));
                        noAck = session.NoAck;
                        if (session.Ended) return;
                        break;
                    case Incoming.BadChecksum b:
                        Log?.Invoke($"packet with a bad checksum: '{Printable(Encoding.Latin1.GetString(b.Raw))}'");
                        if (!noAck) stream.WriteByte((byte)'-');
                        break;
                    case Incoming.Oversized o:
                        Log?.Invoke($"packet of {o.Length} bytes exceeds the {GdbSession.MaxPacketSize}-byte limit");
                        // The frame arrived whole; without the ack gdb would discard the error as a stale reply and resend.
                        if (!noAck) stream.WriteByte((byte)'+');
                        stream.Write(PacketEncoder.Encode(Encoding.ASCII.GetBytes(Reply.Error(0x16))));
                        break;
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { Log?.Invoke("gdb connection lost"); }
        finally
        {
            // Frees a reader blocked on a full queue; closing the stream ends its Read.
            connectionOver.Cancel();
            stream.Close();
            reader.Join(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>Packets decoded but not yet answered, at most, before the stub stops reading from the client.</summary>
    public const int MaxPendingPackets = 16;

    private static string Printable(string s) =>
        new(s.Take(80).Select(c => c is >= ' ' and <= '~' ? c : '.').ToArray());

    public void Dispose() => _listener.Stop();
}
