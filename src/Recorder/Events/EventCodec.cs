using System.Text;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>
/// Encodes a batch of events compactly: a kind byte, then LEB128 varints, with the clock and
/// exit RIPs as zigzag deltas from the previous value in the batch (each batch decodes alone).
/// The result is compressed by the writer.
/// </summary>
public static class EventCodec
{
    private const byte KExit = 1, KClock = 2, KInput = 3, KService = 4, KForced = 5, KEnd = 6, KForcedWithPageList = 7, KScheduled = 8, KExitCounted = 9;

    public static byte[] Encode(IReadOnlyList<TraceEvent> events) => Encode(events, 0, events.Count, new ByteBuffer()).ToArray();

    /// <summary>
    /// Encodes <paramref name="count"/> events from <paramref name="start"/> into
    /// <paramref name="buffer"/>, which it clears first; the bytes stay valid until its next use.
    /// A recording reuses one buffer: a fresh one per batch put large short-lived arrays on the
    /// heap and set off collections that paused the vCPU thread.
    /// </summary>
    internal static ReadOnlySpan<byte> Encode(IReadOnlyList<TraceEvent> events, int start, int count, ByteBuffer buffer)
    {
        var b = buffer;
        b.Clear();
        ulong prevRip = 0;
        long prevClock = 0, prevScheduled = 0;
        for (int at = start; at < start + count; at++)
        {
            var e = events[at];
            switch (e)
            {
                case ScheduledServiceEvent s:
                    b.Byte(KScheduled);
                    b.Var(ZigZag(s.Instructions - prevScheduled));
                    prevScheduled = s.Instructions;
                    break;
                case ExitEvent x:
                    b.Byte(x.Instructions is null ? KExit : KExitCounted);
                    b.Var(x.Reason);
                    b.Var(ZigZag((long)(x.Rip - prevRip)));
                    prevRip = x.Rip;
                    b.Var(x.Address);
                    b.Byte(x.Size);
                    b.Byte(x.Flags);
                    b.Var(x.Count);
                    b.Var((ulong)x.Data.Length);
                    b.Bytes(x.Data);
                    if (x.Instructions is { } retired)
                    {
                        b.Var(ZigZag(retired - prevScheduled));
                        prevScheduled = retired;
                    }
                    break;
                case ClockEvent c:
                    b.Byte(KClock);
                    b.Var(ZigZag(c.Nanoseconds - prevClock));
                    prevClock = c.Nanoseconds;
                    break;
                case InputEvent i:
                    b.Byte(KInput);
                    b.Var((ulong)(i.Value + 1));
                    break;
                case ServiceEvent:
                    b.Byte(KService);
                    break;
                case ForcedServiceEvent f:
                    b.Byte(f.PageListHash is null ? KForced : KForcedWithPageList);
                    b.Var(f.LinearRip);
                    foreach (var r in f.Registers) b.Var(r);
                    b.U64(f.DirtyHash);
                    if (f.PageListHash is { } pageList) b.U64(pageList);
                    break;
                case EndEvent end:
                    b.Byte(KEnd);
                    b.Var((ulong)end.Kind);
                    b.Var((ulong)end.ExitStatus);
                    var msg = Encoding.UTF8.GetBytes(end.Message);
                    b.Var((ulong)msg.Length);
                    b.Bytes(msg);
                    b.U64(end.RegisterHash);
                    b.U64(end.MemoryHash);
                    break;
                default:
                    throw new ArgumentException($"unknown event {e.GetType().Name}");
            }
        }
        return b.Written;
    }

    /// <summary>
    /// Decodes a batch of at most <see cref="Format.TraceFormat.MaxEventsPerBatch"/> events;
    /// throws <see cref="FormatException"/> naming the byte offset of a malformed event.
    /// </summary>
    public static List<TraceEvent> Decode(ReadOnlySpan<byte> data)
    {
        var list = new List<TraceEvent>();
        Decode(data, list);
        return list;
    }

    /// <summary>
    /// As <see cref="Decode(ReadOnlySpan{byte})"/>, appending the events to <paramref name="list"/>;
    /// when it throws, the events of this batch appended so far stay in the list.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> data, List<TraceEvent> list)
    {
        int before = list.Count;
        var r = new ByteReader(data);
        long prevScheduled = 0;
        ulong prevRip = 0;
        long prevClock = 0;
        while (!r.AtEnd)
        {
            int at = r.Position;
            if (list.Count - before == Format.TraceFormat.MaxEventsPerBatch)
                throw new FormatException($"the batch holds more than {Format.TraceFormat.MaxEventsPerBatch} events (event {list.Count - before} at byte {at})");
            byte kind = r.Byte();
            switch (kind)
            {
                case KExit or KExitCounted:
                    uint reason = r.Var32("exit reason");
                    ulong rip = prevRip + (ulong)UnZigZag(r.Var());
                    prevRip = rip;
                    ulong address = r.Var();
                    byte size = r.Byte();
                    byte flags = r.Byte();
                    uint count = r.Var32("exit count");
                    var bytes = ExitEvent.DataOf(r.Bytes(r.Var(), "exit data"));
                    long? retired = null;
                    if (kind == KExitCounted)
                    {
                        prevScheduled += UnZigZag(r.Var());
                        if (prevScheduled < 0) throw new FormatException($"exit at byte {at} has a negative instruction count");
                        retired = prevScheduled;
                    }
                    list.Add(new ExitEvent(reason, rip, address, size, flags, count, bytes) { Instructions = retired });
                    break;
                case KClock:
                    prevClock += UnZigZag(r.Var());
                    list.Add(new ClockEvent(prevClock));
                    break;
                case KInput:
                    // byte + 1, or 0 for nothing: anything above 256 is not a byte.
                    ulong input = r.Var();
                    if (input > 256) throw new FormatException($"serial input {input - 1} at byte {at} is not a byte");
                    list.Add(new InputEvent((int)input - 1));
                    break;
                case KService:
                    list.Add(Service);
                    break;
                case KScheduled:
                    prevScheduled += UnZigZag(r.Var());
                    if (prevScheduled < 0) throw new FormatException($"scheduled service point at byte {at} has a negative instruction count");
                    list.Add(new ScheduledServiceEvent(prevScheduled));
                    break;
                case KForced or KForcedWithPageList:
                    ulong linear = r.Var();
                    var regs = new ulong[ForcedServiceEvent.RegisterCount];
                    for (int i = 0; i < regs.Length; i++) regs[i] = r.Var();
                    ulong contents = r.U64();
                    list.Add(new ForcedServiceEvent(linear, regs, contents, kind == KForcedWithPageList ? r.U64() : null));
                    break;
                case KEnd:
                    var k = (RunOutcomeKind)r.Var32("outcome kind");
                    // Written as the int sign-extended to 64 bits.
                    int statusAt = r.Position;
                    long status64 = (long)r.Var();
                    if (status64 is < int.MinValue or > int.MaxValue) throw new FormatException($"exit status {status64} at byte {statusAt} is not a 32-bit value");
                    int status = (int)status64;
                    string message = Encoding.UTF8.GetString(r.Bytes(r.Var(), "end message"));
                    list.Add(new EndEvent(k, status, message, r.U64(), r.U64()));
                    break;
                default:
                    throw new FormatException($"unknown event kind {kind} at byte {at}");
            }
        }
    }

    // Service events carry nothing: one instance serves every batch.
    private static readonly ServiceEvent Service = new();

    /// <summary>
    /// The most bytes <paramref name="e"/> can take encoded (varints at their longest), so that a
    /// writer can close a batch before it outgrows <see cref="Format.TraceFormat.MaxBatchBytes"/>.
    /// </summary>
    public static int MaxEncodedSize(TraceEvent e) => e switch
    {
        ExitEvent x => 1 + 6 * MaxVarint + 2 + x.Data.Length,
        EndEvent end => 1 + 3 * MaxVarint + Encoding.UTF8.GetMaxByteCount(end.Message.Length) + 16,
        ForcedServiceEvent => 1 + (1 + ForcedServiceEvent.RegisterCount) * MaxVarint + 16,
        _ => 1 + MaxVarint,
    };

    private const int MaxVarint = 10;

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    private static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    /// <summary>A growable byte buffer that <see cref="Encode(IReadOnlyList{TraceEvent}, int, int, ByteBuffer)"/> writes into.</summary>
    internal sealed class ByteBuffer
    {
        private byte[] _buf = new byte[4096];
        private int _len;

        public void Clear() => _len = 0;

        public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);

        public void Byte(byte v)
        {
            Ensure(1);
            _buf[_len++] = v;
        }

        public void Var(ulong v)
        {
            Ensure(10);
            while (v >= 0x80)
            {
                _buf[_len++] = (byte)(v | 0x80);
                v >>= 7;
            }
            _buf[_len++] = (byte)v;
        }

        public void U64(ulong v)
        {
            Ensure(8);
            BitConverter.TryWriteBytes(_buf.AsSpan(_len), v);
            _len += 8;
        }

        public void Bytes(ReadOnlySpan<byte> v)
        {
            Ensure(v.Length);
            v.CopyTo(_buf.AsSpan(_len));
            _len += v.Length;
        }

        private void Ensure(int n)
        {
            if (_len + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        }
    }

    private ref struct ByteReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        public int Position { get; private set; }
        public readonly bool AtEnd => Position >= _data.Length;

        public byte Byte()
        {
            if (Position >= _data.Length) throw new FormatException($"event batch ends early at byte {Position}");
            return _data[Position++];
        }

        public ulong Var()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
            throw new FormatException($"varint too long at byte {Position}");
        }

        /// <summary>A varint that must fit 32 bits (<paramref name="what"/> names it in the error).</summary>
        public uint Var32(string what)
        {
            int at = Position;
            ulong v = Var();
            if (v > uint.MaxValue) throw new FormatException($"{what} {v} at byte {at} does not fit 32 bits");
            return (uint)v;
        }

        public ulong U64()
        {
            var s = Bytes(8, "u64");
            return BitConverter.ToUInt64(s);
        }

        /// <summary>The next <paramref name="n"/> bytes, when that many remain (compared without overflow).</summary>
        public ReadOnlySpan<byte> Bytes(ulong n, string what)
        {
            if (n > (ulong)(_data.Length - Position))
                throw new FormatException($"event batch ends early at byte {Position}: {what} of {n} bytes, {_data.Length - Position} left");
            var s = _data.Slice(Position, (int)n);
            Position += (int)n;
            return s;
        }
    }
}
