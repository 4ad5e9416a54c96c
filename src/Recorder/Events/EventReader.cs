using System.Text;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>
/// Reads an encoded batch (traces/FORMAT.md, "Events") one event at a time, exits as values
/// without an object each, and each repetition of a repeated exit (kind 10) as an exit of its
/// own. A copy of a reader goes on from where the original stood: a writer that must encode
/// part of a batch again keeps one at the part's start, and a replay keeps its
/// <see cref="Place"/> between events.
/// </summary>
public ref struct EventReader(ReadOnlySpan<byte> data, EventReader.Place place)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private ulong _prevRip = place.PrevRip;
    private long _prevClock = place.PrevClock, _prevScheduled = place.PrevScheduled;
    private int _lastExit = place.LastExit, _repeatsLeft = place.RepeatsLeft;

    /// <summary>Reads <paramref name="data"/> from its start.</summary>
    public EventReader(ReadOnlySpan<byte> data) : this(data, default) { }

    /// <summary>The byte the next event starts at (past a repeat while repetitions of it are left).</summary>
    public int Position { get; private set; } = place.Position;

    /// <summary>Where the reader stands, to go on from there with another reader over the same bytes.</summary>
    public readonly Place At => new(Position, _prevRip, _prevClock, _prevScheduled, _lastExit, _repeatsLeft);

    /// <summary>
    /// A reader's position in a batch: the next event's byte, the values the next deltas are
    /// taken from, the last exit read (its first byte + 1; 0 when the event before is not an
    /// exit), which a repeat repeats, and how many repetitions of it are still to be read.
    /// </summary>
    public readonly record struct Place(int Position, ulong PrevRip, long PrevClock, long PrevScheduled, int LastExit = 0, int RepeatsLeft = 0);

    public readonly bool AtEnd => Position >= _data.Length && _repeatsLeft == 0;

    /// <summary>Whether the next event is another repetition of the exit a repeat repeats.</summary>
    public readonly bool Repeating => _repeatsLeft > 0;

    /// <summary>
    /// Whether the event at <paramref name="at"/> in <paramref name="batch"/> is an exit (read
    /// directly or repeated), by its kind byte alone.
    /// </summary>
    public static bool IsExitAt(ReadOnlySpan<byte> batch, in Place at) =>
        at.RepeatsLeft > 0 || batch[at.Position] is EventCodec.KExit or EventCodec.KExitCounted or EventCodec.KRepeat;

    /// <summary>
    /// Whether the exit at <paramref name="at"/> is encoded as <paramref name="encoded"/> (an
    /// exit's bytes as <see cref="EventCodec.WriteExit"/> writes them from the place's deltas),
    /// and if so where the event after it starts, the deltas still to be updated by the caller
    /// (<see cref="Place.PrevRip"/>, <see cref="Place.PrevScheduled"/>). How a replay checks an
    /// exit without decoding the recorded one.
    /// </summary>
    public static bool MatchesExitAt(ReadOnlySpan<byte> batch, in Place at, ReadOnlySpan<byte> encoded, out Place after)
    {
        after = at;
        int start, next;
        int left = 0;
        if (at.RepeatsLeft > 0)
        {
            start = at.LastExit - 1;
            next = at.Position;
            left = at.RepeatsLeft - 1;
        }
        else if (batch[at.Position] == EventCodec.KRepeat)
        {
            // Checked when the batch was counted: a repeat follows an exit, its count fits a batch.
            var r = new EventReader(batch, at);
            r.Position++;
            left = (int)r.Var() - 1;
            start = at.LastExit - 1;
            next = r.Position;
        }
        else
        {
            start = at.Position;
            next = start + encoded.Length;
        }
        if (encoded.Length > batch.Length - start || !encoded.SequenceEqual(batch.Slice(start, encoded.Length))) return false;
        after = new Place(next, at.PrevRip, at.PrevClock, at.PrevScheduled, start + 1, left);
        return true;
    }

    /// <summary>
    /// Skips the repetitions of a repeated exit still to be read, decoding it once and applying
    /// its deltas for the rest, with the checks reading each would make (counting a batch of
    /// 16,384 repetitions costs no more than one); returns how many it skipped.
    /// </summary>
    public int SkipRepeats()
    {
        int n = _repeatsLeft;
        if (n == 0) return 0;
        _repeatsLeft = 0;
        int start = _lastExit - 1;
        ulong rip = _prevRip;
        long scheduled = _prevScheduled;
        bool counted = ExitAt(start).Instructions is not null;
        ulong ripDelta = _prevRip - rip;
        long scheduledDelta = _prevScheduled - scheduled;
        // The n - 1 steps at once: RIP wraps as adding each would; the count, which starts at 0
        // or more, goes negative at some step (an add past long.MaxValue wraps to a negative)
        // exactly when the last one lies outside 0..long.MaxValue.
        _prevRip += ripDelta * (ulong)(n - 1);
        if (counted)
        {
            Int128 last = _prevScheduled + (Int128)scheduledDelta * (n - 1);
            if (last < 0 || last > long.MaxValue) throw new FormatException($"exit at byte {start} has a negative instruction count");
            _prevScheduled = (long)last;
        }
        return n;
    }

    /// <summary>
    /// Reads the next event: an exit into <paramref name="exit"/> (and returns null), anything
    /// else as its object. Throws <see cref="FormatException"/> naming the byte offset of a
    /// malformed event.
    /// </summary>
    public TraceEvent? Next(out ExitFields exit)
    {
        if (_repeatsLeft > 0)
        {
            _repeatsLeft--;
            exit = ExitAt(_lastExit - 1);
            return null;
        }
        exit = default;
        int at = Position;
        byte kind = Byte();
        switch (kind)
        {
            case EventCodec.KExit or EventCodec.KExitCounted:
                Position = at;
                exit = ExitAt(at);
                _lastExit = at + 1;
                return null;
            case EventCodec.KRepeat:
                if (_lastExit == 0) throw new FormatException($"repeat at byte {at} does not follow an exit");
                ulong repeats = Var();
                if (repeats is 0 or > Format.TraceFormat.MaxEventsPerBatch)
                    throw new FormatException($"repeat at byte {at} repeats its exit {repeats} times (1 to {Format.TraceFormat.MaxEventsPerBatch})");
                _repeatsLeft = (int)repeats - 1;
                exit = ExitAt(_lastExit - 1);
                return null;
        }
        _lastExit = 0;
        switch (kind)
        {
            case EventCodec.KClock:
                _prevClock += EventCodec.UnZigZag(Var());
                return new ClockEvent(_prevClock);
            case EventCodec.KInput:
                // byte + 1, or 0 for nothing: anything above 256 is not a byte.
                ulong input = Var();
                if (input > 256) throw new FormatException($"serial input {input - 1} at byte {at} is not a byte");
                return new InputEvent((int)input - 1);
            case EventCodec.KService:
                return Service;
            case EventCodec.KScheduled:
                _prevScheduled += EventCodec.UnZigZag(Var());
                if (_prevScheduled < 0) throw new FormatException($"scheduled service point at byte {at} has a negative instruction count");
                return new ScheduledServiceEvent(_prevScheduled);
            case EventCodec.KForced or EventCodec.KForcedWithPageList:
                ulong linear = Var();
                var regs = new ulong[ForcedServiceEvent.RegisterCount];
                for (int i = 0; i < regs.Length; i++) regs[i] = Var();
                ulong contents = U64();
                return new ForcedServiceEvent(linear, regs, contents, kind == EventCodec.KForcedWithPageList ? U64() : null);
            case EventCodec.KEnd:
                var k = (RunOutcomeKind)Var32("outcome kind");
                // Written as the int sign-extended to 64 bits.
                int statusAt = Position;
                long status64 = (long)Var();
                if (status64 is < int.MinValue or > int.MaxValue) throw new FormatException($"exit status {status64} at byte {statusAt} is not a 32-bit value");
                string message = Encoding.UTF8.GetString(Bytes(Var(), "end message"));
                return new EndEvent(k, (int)status64, message, U64(), U64());
            default:
                throw new FormatException($"unknown event kind {kind} at byte {at}");
        }
    }

    // Reads the exit encoded at `start`, applying its deltas; the reader moves past it when it
    // stands there, and stays where it is when the exit is one a repeat repeats.
    private ExitFields ExitAt(int start)
    {
        int resume = Position;
        Position = start;
        byte kind = Byte();
        uint reason = Var32("exit reason");
        ulong rip = _prevRip + (ulong)EventCodec.UnZigZag(Var());
        _prevRip = rip;
        ulong address = Var();
        byte size = Byte();
        byte flags = Byte();
        uint count = Var32("exit count");
        var bytes = Bytes(Var(), "exit data");
        long? retired = null;
        if (kind == EventCodec.KExitCounted)
        {
            _prevScheduled += EventCodec.UnZigZag(Var());
            if (_prevScheduled < 0) throw new FormatException($"exit at byte {start} has a negative instruction count");
            retired = _prevScheduled;
        }
        if (resume > start) Position = resume;
        return new ExitFields(reason, rip, address, size, flags, count, bytes, retired);
    }

    // Service events carry nothing: one instance serves every batch.
    private static readonly ServiceEvent Service = new();

    private byte Byte()
    {
        if (Position >= _data.Length) throw new FormatException($"event batch ends early at byte {Position}");
        return _data[Position++];
    }

    private ulong Var()
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

    // A varint that must fit 32 bits (`what` names it in the error).
    private uint Var32(string what)
    {
        int at = Position;
        ulong v = Var();
        if (v > uint.MaxValue) throw new FormatException($"{what} {v} at byte {at} does not fit 32 bits");
        return (uint)v;
    }

    private ulong U64() => BitConverter.ToUInt64(Bytes(8, "u64"));

    // The next n bytes, when that many remain (compared without overflow).
    private ReadOnlySpan<byte> Bytes(ulong n, string what)
    {
        if (n > (ulong)(_data.Length - Position))
            throw new FormatException($"event batch ends early at byte {Position}: {what} of {n} bytes, {_data.Length - Position} left");
        var s = _data.Slice(Position, (int)n);
        Position += (int)n;
        return s;
    }
}
