using System.Text;
using VmReplay.GdbStub;
using VmReplay.GdbStub.Protocol;

namespace VmReplay.Fuzz;

/// <summary>
/// What the gdb stub does with bytes from a client, without the socket: the packet decoder (fed
/// in two pieces, split where the input says), the command parser, the session's answers against
/// a small target, and the reply encoder. Nothing here may throw.
/// </summary>
public static class RspTarget
{
    /// <summary>Runs the stub on <paramref name="stream"/>; returns the number of packets it answered.</summary>
    public static int Run(ReadOnlySpan<byte> stream)
    {
        var decoder = new PacketDecoder(GdbSession.MaxPacketSize);
        using var target = new FuzzDebugTarget();
        var session = new GdbSession(target);
        int split = stream.IsEmpty ? 0 : stream[0] % (stream.Length + 1);
        decoder.Feed(stream[..split]);
        int answered = Drain(decoder, session);
        if (session.Ended) return answered;
        decoder.Feed(stream[split..]);
        return answered + Drain(decoder, session);
    }

    private static int Drain(PacketDecoder decoder, GdbSession session)
    {
        int answered = 0;
        while (decoder.TryTake(out var item))
        {
            if (item is not Incoming.Packet packet) continue;
            var command = CommandParser.Parse(packet.Payload);
            foreach (var reply in session.Handle(command))
            {
                var frame = PacketEncoder.Encode(Encoding.Latin1.GetBytes(reply), runLength: reply.Length > 64);
                if (frame.Length == 0) throw new InvalidOperationException("an empty frame");
            }
            answered++;
            if (session.Ended) break;
        }
        return answered;
    }
}
