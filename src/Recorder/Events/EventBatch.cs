using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Events;

/// <summary>
/// A batch of events encoded as traces/FORMAT.md ("Events") lays them out, appended one at a
/// time: the recording's vCPU thread writes each exit's bytes here as it happens, and the
/// writer compresses them as they are. An object per exit (an <see cref="ExitEvent"/> lives
/// until its batch is written) made the vCPU thread allocate 15 MB for 200,000 exits and pause
/// for the collections that copied them; a batch is allocated once and filled again for the
/// whole recording. Its bytes are native memory: a batch of 16,384 exits takes 100 to 200 KB,
/// and as managed arrays the batches a recording starts with (the writer thread, running at a
/// lower priority, returns them late on a busy host) set off a blocking full collection.
/// An exit encoded exactly as the one before it (a polling loop's: same access, same deltas)
/// is counted, not written again, and the run ends in one repeat event.
/// </summary>
internal sealed unsafe class EventBatch : IDisposable
{
    private byte* _buf = (byte*)NativeMemory.Alloc(InitialCapacity);
    private int _capacity = InitialCapacity;
    private int _len;
    private const int InitialCapacity = 64 << 10;
    // The values the next delta is taken from; all zero at a batch's start (each batch decodes alone).
    private ulong _prevRip;
    private long _prevClock, _prevScheduled;
    // The last event's shape if it is an exit that has one (then a repeat may follow it), and
    // the repetitions of it not yet written.
    private ExitShape _lastShape;
    private bool _lastHasShape;
    private int _repeats;

    /// <summary>Whether an exit encoded as the one before it is counted as a repetition (trace format 6 on); otherwise written again.</summary>
    public bool RepeatsExits { get; init; } = true;

    /// <summary>Events in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>At least the length of <see cref="Bytes"/>, without ending a run of repetitions.</summary>
    public int MaxLength
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _len + (_repeats > 0 ? EventCodec.MaxRepeatSize : 0);
    }

    /// <summary>The encoded events, a run of repetitions still being counted written out first; valid until the batch next changes.</summary>
    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            EndRepeats();
            return new(_buf, _len);
        }
    }

    /// <summary>Empties the batch, keeping its storage.</summary>
    public void Clear()
    {
        _len = 0;
        Count = 0;
        _prevRip = 0;
        _prevClock = _prevScheduled = 0;
        _lastHasShape = false;
        _repeats = 0;
    }

    /// <summary>Appends an exit's fingerprint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddExit(in ExitFields x)
    {
        // Compared as values, not as bytes: only an exit that differs from the last one is encoded.
        bool shaped = ExitShape.TryOf(x, _prevRip, _prevScheduled, out var shape);
        if (shaped && _lastHasShape && RepeatsExits && shape == _lastShape)
            _repeats++;
        else
            Write(x, shape, shaped);
        Added(x.Rip, x.Instructions);
    }

    /// <summary>
    /// After an exit: what a repetition of it would be, if it is a port exit of one element and
    /// there is room in the batch for a repetition (the room TraceWriter asks for: a repetition is
    /// never counted where the writer would have ended the batch first). Each repetition of it
    /// is counted by <see cref="AddRepetitions"/>, as <see cref="AddExit"/> would count it.
    /// </summary>
    public bool TryPredict(out PortExitPrediction next)
    {
        next = default;
        return _lastHasShape && RepeatsExits && _lastShape.TryPredictPortExit(_prevRip, _prevScheduled, out next)
            && _len + EventCodec.MaxRepeatSize + EventCodec.MaxExitSize(ExitShape.MaxData) <= Format.TraceFormat.MaxBatchBytes;
    }

    /// <summary>
    /// Counts <paramref name="count"/> repetitions of the last exit, as predicted by
    /// <see cref="TryPredict"/>, the last of them at <paramref name="last"/>'s
    /// <see cref="PortExitPrediction.LastRip"/> and <see cref="PortExitPrediction.LastInstructions"/>.
    /// </summary>
    public void AddRepetitions(int count, in PortExitPrediction last)
    {
        _repeats += count;
        Count += count;
        _prevRip = last.LastRip;
        if (last.Counted) _prevScheduled = last.LastInstructions;
    }

    // An exit at `rip`, `instructions` was added: the next one's deltas are from it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Added(ulong rip, long? instructions)
    {
        _prevRip = rip;
        if (instructions is { } retired) _prevScheduled = retired;
        Count++;
    }

    // An exit that is not a repetition, written out: a method of its own, so that the check for
    // a repetition (a polling loop's every exit) runs without the encoder's frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Write(in ExitFields x, in ExitShape shape, bool shaped)
    {
        EndRepeats();
        Ensure(EventCodec.MaxExitSize(x.Data.Length));
        _len += EventCodec.WriteExit(_buf + _len, x, _prevRip, _prevScheduled);
        _lastShape = shape;
        _lastHasShape = shaped;
    }

    // Writes the repetitions counted since the last exit written, as one repeat event.
    private void EndRepeats()
    {
        if (_repeats == 0) return;
        Ensure(EventCodec.MaxRepeatSize);
        _len += EventCodec.WriteRepeat(_buf + _len, _repeats);
        _repeats = 0;
    }

    /// <summary>Appends an event.</summary>
    public void Add(TraceEvent e)
    {
        if (e is ExitEvent x)
        {
            AddExit(ExitFields.Of(x));
            return;
        }
        EndRepeats();
        _lastHasShape = false;
        Ensure(EventCodec.MaxEncodedSize(e));
        switch (e)
        {
            case ScheduledServiceEvent s:
                Byte(EventCodec.KScheduled);
                Var(EventCodec.ZigZag(s.Instructions - _prevScheduled));
                _prevScheduled = s.Instructions;
                break;
            case ClockEvent c:
                Byte(EventCodec.KClock);
                Var(EventCodec.ZigZag(c.Nanoseconds - _prevClock));
                _prevClock = c.Nanoseconds;
                break;
            case InputEvent i:
                Byte(EventCodec.KInput);
                Var((ulong)(i.Value + 1));
                break;
            case ServiceEvent:
                Byte(EventCodec.KService);
                break;
            case ForcedServiceEvent f:
                Byte(f.PageListHash is null ? EventCodec.KForced : EventCodec.KForcedWithPageList);
                Var(f.LinearRip);
                foreach (var r in f.Registers) Var(r);
                U64(f.DirtyHash);
                if (f.PageListHash is { } pageList) U64(pageList);
                break;
            case EndEvent end:
                Byte(EventCodec.KEnd);
                Var((ulong)end.Kind);
                Var((ulong)end.ExitStatus);
                var msg = Encoding.UTF8.GetBytes(end.Message);
                Var((ulong)msg.Length);
                msg.CopyTo(new Span<byte>(_buf + _len, msg.Length));
                _len += msg.Length;
                U64(end.RegisterHash);
                U64(end.MemoryHash);
                break;
            default:
                throw new ArgumentException($"unknown event {e.GetType().Name}");
        }
        Count++;
    }

    // Every event makes room for its longest encoding first (EventCodec.MaxEncodedSize), so the
    // writes below need no checks of their own.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int n)
    {
        if (_len + n > _capacity) Grow(n);
    }

    private void Grow(int n)
    {
        ObjectDisposedException.ThrowIf(_buf is null, this);
        int capacity = Math.Max(2 * _capacity, _len + n);
        _buf = (byte*)NativeMemory.Realloc(_buf, (nuint)capacity);
        _capacity = capacity;
    }

    private void Byte(byte v) => _buf[_len++] = v;

    private void Var(ulong v)
    {
        byte* p = _buf + _len;
        EventCodec.Var(ref p, v);
        _len = (int)(p - _buf);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(_buf + _len, 8), v);
        _len += 8;
    }

    public void Dispose()
    {
        NativeMemory.Free(_buf);
        _buf = null;
        _len = _capacity = 0;
        GC.SuppressFinalize(this);
    }

    // A batch a failed recording dropped still gives its memory back.
    ~EventBatch() => NativeMemory.Free(_buf);
}
