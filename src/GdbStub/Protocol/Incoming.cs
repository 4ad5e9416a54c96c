namespace VmReplay.GdbStub.Protocol;

/// <summary>One thing the <see cref="PacketDecoder"/> recognised in the byte stream from gdb.</summary>
public abstract record Incoming
{
    private Incoming() { }

    /// <summary>A packet whose checksum matched; the payload is run-length expanded and unescaped.</summary>
    public sealed record Packet(byte[] Payload) : Incoming;

    /// <summary>A packet whose checksum did not match (or was not hex); <paramref name="Raw"/> is what stood between '$' and '#'. Answer with '-'.</summary>
    public sealed record BadChecksum(byte[] Raw) : Incoming;

    /// <summary>'+': gdb received our last packet.</summary>
    public sealed record Ack : Incoming;

    /// <summary>'-': gdb wants our last packet again.</summary>
    public sealed record Nack : Incoming;

    /// <summary>0x03 between packets: the user pressed Ctrl-C.</summary>
    public sealed record Interrupt : Incoming;

    /// <summary>A packet longer than the decoder's limit was discarded; <paramref name="Length"/> is how many bytes it had.</summary>
    public sealed record Oversized(long Length) : Incoming;
}
