namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// Turns the byte stream from gdb into packets, acks and interrupts. Bytes may arrive split at
/// any boundary; <see cref="Feed"/> keeps what it has not finished and <see cref="TryTake"/>
/// hands out what it has.
/// </summary>
public sealed class PacketDecoder
{
    private enum State { Outside, Body, ChecksumHigh, ChecksumLow }

    private readonly int _maxPacketSize;
    private readonly Queue<Incoming> _ready = new();
    private readonly List<byte> _raw = new();
    private State _state = State.Outside;
    private bool _oversized;
    private long _rawLength; // a client may send more than 2 GiB between '$' and '#'
    private int _checksumHigh;

    /// <param name="maxPacketSize">The most bytes a packet may hold between '$' and '#', and after expansion; advertise it as PacketSize.</param>
    public PacketDecoder(int maxPacketSize = 16384)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacketSize, 1);
        _maxPacketSize = maxPacketSize;
    }

    /// <summary>True between a '$' and the second checksum digit: a client that disconnects now left a packet unfinished.</summary>
    public bool InPacket => _state != State.Outside;

    public void Feed(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
        {
            if (_state == State.Body && _oversized)
            {
                // Nothing of an oversized body is kept: skip to the next '$' or '#' at once, so
                // that gigabytes of it cost a scan, not a state-machine step per byte.
                var skip = data[i..].IndexOfAny((byte)'$', (byte)'#');
                var skipped = skip < 0 ? data.Length - i : skip;
                _rawLength += skipped;
                i += skipped;
                if (i >= data.Length)
                    break;
            }
            Step(data[i]);
        }
    }

    public bool TryTake(out Incoming item) => _ready.TryDequeue(out item!);

    private void Step(byte b)
    {
        switch (_state)
        {
            case State.Outside:
                StepOutside(b);
                break;
            case State.Body:
                StepBody(b);
                break;
            case State.ChecksumHigh or State.ChecksumLow when b == (byte)'$':
                // A checksum digit never is '$': the packet was cut short and a new one begins.
                // The cut one is refused (gdb resends it on the '-'), and the new one is not lost.
                Finish(-1, -1);
                Begin();
                break;
            case State.ChecksumHigh:
                _checksumHigh = Hex.DigitValue((char)b);
                _state = State.ChecksumLow;
                break;
            case State.ChecksumLow:
                _state = State.Outside;
                Finish(_checksumHigh, Hex.DigitValue((char)b));
                break;
        }
    }

    private void StepOutside(byte b)
    {
        switch (b)
        {
            case (byte)'$':
                Begin();
                break;
            case (byte)'+':
                _ready.Enqueue(new Incoming.Ack());
                break;
            case (byte)'-':
                _ready.Enqueue(new Incoming.Nack());
                break;
            case 0x03:
                _ready.Enqueue(new Incoming.Interrupt());
                break;
            default:
                // Line noise, or the tail of a packet whose start we never saw.
                break;
        }
    }

    private void StepBody(byte b)
    {
        switch (b)
        {
            case (byte)'$':
                // gdb gave up on the packet in flight and sent a new one.
                Begin();
                return;
            case (byte)'#':
                _state = State.ChecksumHigh;
                return;
        }
        _rawLength++;
        if (_oversized)
            return;
        if (_rawLength > _maxPacketSize)
        {
            // Keep counting, but stop storing: a hostile client must not make us buffer without end.
            _oversized = true;
            _raw.Clear();
            return;
        }
        _raw.Add(b);
    }

    private void Begin()
    {
        _state = State.Body;
        _raw.Clear();
        _rawLength = 0;
        _oversized = false;
    }

    private void Finish(int high, int low)
    {
        if (_oversized)
        {
            _ready.Enqueue(new Incoming.Oversized(_rawLength));
            return;
        }
        var raw = _raw.ToArray();
        _raw.Clear();
        if (high < 0 || low < 0 || Checksum.Of(raw) != (byte)(high << 4 | low))
        {
            _ready.Enqueue(new Incoming.BadChecksum(raw));
            return;
        }
        var payload = Unescape(Expand(raw));
        if (payload.Count > _maxPacketSize)
        {
            _ready.Enqueue(new Incoming.Oversized(payload.Count));
            return;
        }
        _ready.Enqueue(new Incoming.Packet(payload.ToArray()));
    }

    // "X*N" repeats the byte before '*' N-29 more times. Like gdb, expand runs on the bytes as
    // sent, before unescaping; the count byte is never itself escaped. A '*' with nothing before
    // it or nothing after it cannot come from a correct sender and is dropped.
    private List<byte> Expand(byte[] raw)
    {
        var expanded = new List<byte>(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b != PacketEncoder.RunMarker)
            {
                expanded.Add(b);
                continue;
            }
            if (i + 1 >= raw.Length)
                break;
            var repeats = raw[++i] - 29;
            if (expanded.Count == 0 || repeats <= 0)
                continue;
            // Bounded so a packet of runs cannot expand far beyond the limit before we check it.
            repeats = Math.Min(repeats, _maxPacketSize + 1 - expanded.Count);
            var repeated = expanded[^1];
            for (var r = 0; r < repeats; r++)
                expanded.Add(repeated);
        }
        return expanded;
    }

    // A '}' as the very last byte has nothing to escape and is dropped.
    private static List<byte> Unescape(List<byte> bytes)
    {
        var plain = new List<byte>(bytes.Count);
        for (var i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] != PacketEncoder.EscapeByte)
            {
                plain.Add(bytes[i]);
                continue;
            }
            if (i + 1 < bytes.Count)
                plain.Add((byte)(bytes[++i] ^ PacketEncoder.EscapeXor));
        }
        return plain;
    }
}
