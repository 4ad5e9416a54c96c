using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>The recorded events, consumed in order by the parts of the replay that asked for them.</summary>
public sealed class EventCursor
{
    private IEnumerator<TraceEvent> _events;
    private TraceEvent? _peeked;
    private bool _hasPeeked;
    private readonly Queue<(long Index, TraceEvent Event)> _recent = new();

    public EventCursor(IEnumerable<TraceEvent> events) => _events = events.GetEnumerator();

    /// <summary>Continues from event <paramref name="position"/>, whose events <paramref name="events"/> yields (after a snapshot was restored).</summary>
    public void Reset(IEnumerable<TraceEvent> events, long position)
    {
        _events.Dispose();
        _events = events.GetEnumerator();
        _hasPeeked = false;
        _peeked = null;
        _recent.Clear();
        Position = position;
    }

    /// <summary>Index of the next event.</summary>
    public long Position { get; private set; }

    /// <summary>The last events consumed, for divergence reports.</summary>
    public IEnumerable<(long Index, TraceEvent Event)> Recent => _recent;

    public TraceEvent? Peek()
    {
        if (!_hasPeeked)
        {
            _peeked = _events.MoveNext() ? _events.Current : null;
            _hasPeeked = true;
        }
        return _peeked;
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

    public void Advance()
    {
        _recent.Enqueue((Position, _peeked!));
        if (_recent.Count > 8) _recent.Dequeue();
        _hasPeeked = false;
        Position++;
    }
}
