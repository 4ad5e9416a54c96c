using System.Runtime.CompilerServices;
using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// The recorded events, consumed in order by the parts of the replay that asked for them. It
/// reads the trace's batches an event at a time: an exit, almost every event of a replay, is
/// compared as values (<see cref="PeekExit"/>) and never made into an object unless something
/// asks for one (<see cref="Peek"/>, a report); an object for each made a replay of 200,000
/// exits allocate 14 MB and pause for the collection.
/// </summary>
public sealed class EventCursor
{
    private IEnumerator<EncodedBatch> _batches;
    private EncodedBatch? _batch;
    // Events of the batch not yet consumed, and where the next one starts.
    private int _left;
    private EventReader.Place _at;
    // The next event, once looked at: null for an exit (or the end), and where the one after
    // starts. An exit is only looked at by its kind byte, and read once, by whichever of
    // PeekExit and Advance comes first: reading it twice was a tenth of a replay's bookkeeping.
    private bool _hasPeeked;
    private TraceEvent? _peekedOther;
    private bool _afterKnown;
    private EventReader.Place _after;
    // The shape of the last exit taken by TakeIfRecorded, and where it is encoded (its batch and
    // its first byte + 1, as a place's LastExit names it): the repetitions of a repeated exit
    // are checked against it as values.
    private ExitShape _takenShape;
    private byte[]? _takenBatch;
    private int _takenExit;
    // Inside a run of repetitions of the exit taken last, when it is a port exit of one element
    // with its instructions counted (which a software CPU's exit matches as values): the next
    // repetition, and how many of the run's repetitions are left to take so. A polling loop's
    // every exit is taken by four compares and by moving the prediction on, by the run loop
    // itself (ReplaySources.PredictedExits) or by TakeIfRecorded; the place, the position and
    // what a look knows are worked out from it when anything else asks (Settle).
    private readonly PredictedPortExits _predicted = new();
    // The last batches read, newest at _recentBatchCount - 1 (mod RecentCount), and where the
    // cursor started: the last events consumed are decoded again from them for a divergence
    // report. Nothing is stored per event: with a ring of places written at every event,
    // Advance was 155 of the vCPU thread's 3,357 samples in a profile of a 4,000,000-exit
    // replay; it is now inlined into its callers, and that replay went 0.799 -> 0.768 s (median
    // of 9 alternating rounds).
    private const int RecentCount = 8;
    private readonly EncodedBatch?[] _recentBatches = new EncodedBatch?[RecentCount];
    private long _recentBatchCount;
    private long _startPosition;
    // Nothing read yet since the cursor was made or moved: the batches are read when an event is
    // first looked at. A replay that starts from its first snapshot moves the cursor there
    // before any event is needed; it read the first chunk twice, the first time on the main
    // thread before the machine was built (9 ms of that thread in a probe build of a
    // 200,000-exit replay; 3.6 ms of the whole command, 151 alternating rounds, with the read
    // ahead of TraceReader.ReadBatchesAhead).
    private bool _unread;

    public EventCursor(IEnumerable<EncodedBatch> batches) : this(batches, 0) { }

    /// <summary>Reads from event <paramref name="position"/>, which <paramref name="batches"/> holds (its first batch may begin before it).</summary>
    public EventCursor(IEnumerable<EncodedBatch> batches, long position)
    {
        _batches = batches.GetEnumerator();
        Start(position);
    }

    /// <summary>Continues from event <paramref name="position"/>, which <paramref name="batches"/> holds (after a snapshot was restored).</summary>
    public void Reset(IEnumerable<EncodedBatch> batches, long position)
    {
        _batches.Dispose();
        _batches = batches.GetEnumerator();
        Start(position);
    }

    private void Start(long position)
    {
        _batch = null;
        _takenBatch = null;
        _left = 0;
        _hasPeeked = false;
        _peekedOther = null;
        _recentBatchCount = 0;
        Array.Clear(_recentBatches);
        _startPosition = position;
        _position = position;
        _predicted.Disarm();
        _unread = true;
    }

    // The first batch with events at or after the start position, the events before it
    // skipped; false at the end of the recording.
    private bool ReadFirst()
    {
        _unread = false;
        while (NextBatch() && _batch!.First < _startPosition)
        {
            long skip = Math.Min(_startPosition - _batch.First, _batch.Count);
            var r = new EventReader(_batch.Bytes);
            for (long i = 0; i < skip; i++) r.Next(out _);
            _at = r.At;
            _left = _batch.Count - (int)skip;
            if (_left > 0) return true;
        }
        return _left > 0;
    }

    // Moves to the next batch with events; false at the end of the recording.
    private bool NextBatch()
    {
        if (_unread) return ReadFirst();
        while (_batches.MoveNext())
        {
            _batch = _batches.Current;
            _at = default;
            _left = _batch.Count;
            if (_left > 0)
            {
                _recentBatches[_recentBatchCount++ % RecentCount] = _batch;
                return true;
            }
        }
        _batch = null;
        _left = 0;
        return false;
    }

    /// <summary>
    /// The repetitions of a port exit this cursor predicts next, which the run loop may take
    /// for it (as <see cref="TakeIfRecorded"/> would).
    /// </summary>
    public PredictedPortExits Predicted => _predicted;

    /// <summary>Index of the next event.</summary>
    public long Position
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _position + _predicted.Pending;
    }

    private long _position;

    /// <summary>The last events consumed (at most 8), for divergence reports.</summary>
    public IEnumerable<(long Index, TraceEvent Event)> Recent
    {
        get
        {
            Settle();
            // The last 8 events lie in at most the last 8 batches read, oldest first; each batch
            // is read once, from its start, up to the last event consumed.
            var recent = new List<(long, TraceEvent)>(RecentCount);
            long from = Math.Max(_startPosition, Position - RecentCount);
            for (long b = Math.Max(0, _recentBatchCount - RecentCount); b < _recentBatchCount; b++)
            {
                var batch = _recentBatches[b % RecentCount]!;
                long end = Math.Min(Position, batch.First + batch.Count);
                if (end <= from) continue;
                var r = new EventReader(batch.Bytes);
                for (long i = batch.First; i < end; i++)
                {
                    var other = r.Next(out var exit);
                    if (i >= from) recent.Add((i, other ?? exit.ToEvent()));
                }
            }
            return recent;
        }
    }

    // Looks at the next event without consuming it; false at the end of the recording.
    // The answer kept since the last look inlines into the per-exit callers; a new look does not.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Look()
    {
        if (_predicted.Armed) Settle();
        return _hasPeeked ? _batch is not null : LookAtNext();
    }

    private bool LookAtNext()
    {
        _hasPeeked = true;
        if (_left == 0 && !NextBatch()) return false;
        if (EventReader.IsExitAt(_batch!.Bytes, _at))
        {
            _peekedOther = null;
            _afterKnown = false;
            return true;
        }
        var r = new EventReader(_batch.Bytes, _at);
        _peekedOther = r.Next(out _);
        _after = r.At;
        _afterKnown = true;
        return true;
    }

    /// <summary>The next event, or null at the end of the recording.</summary>
    public TraceEvent? Peek() => !Look() ? null : _peekedOther ?? Decode(_batch!.Bytes, _at);

    /// <summary>
    /// The next event when it is not an exit; null for an exit or at the end. What a replay asks
    /// at every stop (is a service point next?) without making an object of the exit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TraceEvent? PeekOther() => _predicted.Left > 0 ? null : LookForOther();

    // The rest of PeekOther, a call away from the stops inside a predicted run of repetitions.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TraceEvent? LookForOther() => Look() ? _peekedOther : null;

    /// <summary>Whether the next event is an exit, and its fingerprint; the data stays valid until the cursor moves on.</summary>
    public bool PeekExit(out ExitFields exit)
    {
        exit = default;
        if (!Look() || _peekedOther is not null) return false;
        ReadExit(out exit);
        return true;
    }

    // Reads the exit looked at, learning where the event after it starts.
    private void ReadExit(out ExitFields exit)
    {
        var r = new EventReader(_batch!.Bytes, _at);
        r.Next(out exit);
        _after = r.At;
        _afterKnown = true;
    }

    /// <summary>
    /// Consumes the next event if it is the exit a stopped vCPU just made, byte for byte as a
    /// recording encodes it (<see cref="ExitFingerprint.MatchesEncoded"/>); otherwise leaves it
    /// for a closer look.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TakeIfRecorded(Engine.Backend.IVcpuBackend vcpu, Engine.Backend.VcpuExit exit)
    {
        // Another repetition of the exit taken last, as predicted (a polling loop's every exit but
        // the first two): checked here, in a small frame. The general case's locals (an encoded
        // exit, its shape and place) made every call set up a 144-byte frame and zero 96 bytes of it.
        if (_predicted.TryTake(exit)) return true;
        return TakeIfEncoded(vcpu, exit);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TakeIfEncoded(Engine.Backend.IVcpuBackend vcpu, Engine.Backend.VcpuExit exit)
    {
        // A miss leaves what a PeekExit may have learnt of the event as it was.
        if (!Look() || _peekedOther is not null) return false;
        if (RepeatsTaken(_batch!.Bytes)) return TakeRepetition(vcpu, exit);
        if (!ExitFingerprint.MatchesEncoded(vcpu, exit, _batch!.Bytes, _at, out var after, out var shape)) return false;
        _takenShape = shape;
        _takenBatch = _batch.Bytes;
        _takenExit = after.LastExit;
        _after = after;
        _afterKnown = true;
        Advance();
        Predict();
        return true;
    }

    // Whether the place is inside the run of repetitions of the exit taken last (in `batch`).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool RepeatsTaken(byte[] batch) => _at.RepeatsLeft > 0 && _takenBatch == batch && _takenExit == _at.LastExit;

    // Consumes a repetition of the exit taken last if the vCPU's exit is one, the place moved on
    // in place, as Advance would.
    private bool TakeRepetition(Engine.Backend.IVcpuBackend vcpu, Engine.Backend.VcpuExit exit)
    {
        if (!ExitFingerprint.MatchesRepetition(vcpu, exit, _takenShape, ref _at)) return false;
        _left--;
        _position++;
        _hasPeeked = _left > 0 && _at.RepeatsLeft > 0;
        _afterKnown = false;
        Predict();
        return true;
    }

    // After an exit was taken: if repetitions of it are next and it is a port exit of one element
    // with its instructions counted, what the next would be (see _predicted).
    private void Predict()
    {
        if (!(_hasPeeked && RepeatsTaken(_batch!.Bytes) && _takenShape.TryPredictPortExit(_at.PrevRip, _at.PrevScheduled, out var next) && next.Counted)) return;
        _predicted.Arm(next, Math.Min(_at.RepeatsLeft, _left));
    }

    // Brings the place, the position and the look up to the repetitions taken as predicted, as
    // TakeRepetition taking each would have left them.
    private void Settle()
    {
        int taken = _predicted.Settle();
        var last = _predicted.Next;
        // Whatever asked next may move the cursor otherwise: the prediction ends here.
        _predicted.Disarm();
        if (taken == 0) return;
        _at = new EventReader.Place(_at.Position, last.LastRip, _at.PrevClock, last.LastInstructions, _at.LastExit, _at.RepeatsLeft - taken);
        _left -= taken;
        _position += taken;
        _hasPeeked = _left > 0 && _at.RepeatsLeft > 0;
        _afterKnown = false;
    }

    private static TraceEvent Decode(byte[] batch, EventReader.Place at)
    {
        var r = new EventReader(batch, at);
        return r.Next(out var exit) ?? exit.ToEvent();
    }

    /// <summary>Consumes the next event, which must be a <typeparamref name="T"/>; otherwise the replay has diverged.</summary>
    public T Take<T>(string actual) where T : TraceEvent => Take<T, string>(actual, static a => a);

    /// <summary>
    /// As <see cref="Take{T}(string)"/>, describing what the machine did only when it differs:
    /// a replay takes an event at every exit, and formatting each one cost more than the exit.
    /// </summary>
    public T Take<T, TActual>(TActual actual, Func<TActual, string> describe) where T : TraceEvent
    {
        var next = Peek();
        if (next is null) throw new RecordingExhaustedException(Position, describe(actual));
        if (next is not T t)
            throw new ReplayDivergenceException(Position, next.Describe(), describe(actual));
        Advance();
        return t;
    }

    /// <summary>Consumes the next event (which must have been looked at).</summary>
    public void Advance()
    {
        if (!Look()) throw new InvalidOperationException("no event to consume: the recording has ended");
        if (!_afterKnown) ReadExit(out _);
        _at = _after;
        _left--;
        _peekedOther = null;
        _position++;
        // Another repetition of a repeated exit is next: an exit, known without looking at the
        // batch. A polling loop's replay looks at the next event at every stop, and the look
        // (not inlined) was about a fifth of the cursor's share of a 4,000,000-exit replay.
        _hasPeeked = _left > 0 && _at.RepeatsLeft > 0;
        _afterKnown = false;
    }
}
