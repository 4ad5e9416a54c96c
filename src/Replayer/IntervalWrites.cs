using VmReplay.Engine.Backend;

namespace VmReplay.Replayer;

/// <summary>
/// Which linear pages each interval of a replay writes (interval k runs from snapshot k to
/// snapshot k+1), learnt from the vCPU's <see cref="IWrittenPageLog"/> as replays pass through
/// whole intervals: a reverse-continue that watches only for writes passes over an interval that
/// writes none of the watched pages without replaying it. An interval is known only from a
/// replay that ran all of it from its first snapshot on, without a restore in between (the
/// machine's state there was the recorded one: the same instructions write the same linear
/// addresses in every replay of it).
/// </summary>
internal sealed class IntervalWrites(IWrittenPageLog log, int intervals)
{
    private readonly ulong[]?[] _pages = new ulong[]?[intervals];
    // Intervals whose memory the replay also rewrote from the recording (a snapshot check that
    // adopted recorded pages): a change no write of the guest made, never passed over.
    private readonly bool[] _unknowable = new bool[intervals];
    // The interval whose writes the log is collecting, from its first snapshot on; -1 when the
    // machine got where it is other than by running from a snapshot.
    private int _open = -1;

    /// <summary>The machine was just restored to snapshot <paramref name="number"/>: its interval is collected from here.</summary>
    public void Restored(int number)
    {
        log.Take();
        _open = number;
    }

    /// <summary>A replay running forward reached snapshot <paramref name="number"/>: the interval before it is complete.</summary>
    public void Reached(int number)
    {
        var pages = log.Take();
        if (_open >= 0 && _open == number - 1) _pages[_open] = pages;
        _open = number;
    }

    /// <summary>The replay rewrote memory from the recording at snapshot <paramref name="number"/>: the intervals on either side of it are never passed over.</summary>
    public void Rewritten(int number)
    {
        if (number - 1 >= 0 && number - 1 < _unknowable.Length) _unknowable[number - 1] = true;
        if (number < _unknowable.Length) _unknowable[number] = true;
    }

    /// <summary>
    /// Whether the replay from snapshot <paramref name="interval"/> up to the machine's position
    /// now (when it is inside that interval) or to the next snapshot (when it is past it) is known
    /// to write none of <paramref name="watched"/> (linear pages, 4 KiB aligned).
    /// </summary>
    public bool WritesNone(int interval, bool endsHere, IReadOnlyCollection<ulong> watched)
    {
        if (interval < 0 || interval >= _pages.Length || _unknowable[interval]) return false;
        // Up to here, inside the interval the log is collecting: what it has collected so far.
        var pages = endsHere && _open == interval ? log.Peek() : _pages[interval];
        if (pages is null) return false;
        foreach (ulong page in watched)
            if (Array.BinarySearch(pages, page) >= 0) return false;
        return true;
    }
}
