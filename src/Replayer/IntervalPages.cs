using VmReplay.Engine.Backend;

namespace VmReplay.Replayer;

/// <summary>
/// Which linear pages each interval of a replay reads, writes and executes from (interval k runs
/// from snapshot k to snapshot k+1), learnt from the vCPU's <see cref="IPageLog"/> as replays
/// pass through whole intervals: a reverse-continue passes over an interval that touches none of
/// the pages its watches cover the way they watch them and runs no instruction on a page its
/// breakpoints are on, without replaying it. An interval is known only from a replay that ran all of it from its
/// first snapshot on, without a restore in between (the machine's state there was the recorded
/// one: the same instructions run at and write the same linear addresses in every replay of it).
/// </summary>
internal sealed class IntervalPages(IPageLog log, int intervals)
{
    private readonly PageSets?[] _pages = new PageSets?[intervals];
    // Intervals whose memory the replay also rewrote from the recording (a snapshot check that
    // adopted recorded pages): a change no write of the guest made, never passed over.
    private readonly bool[] _unknowable = new bool[intervals];
    // The interval whose pages the log is collecting, from its first snapshot on; -1 when the
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
    /// now (when <paramref name="endsHere"/>: it stands inside that interval) or to the next
    /// snapshot is known to read none of <paramref name="read"/>, write none of
    /// <paramref name="written"/> and run no instruction on any of <paramref name="executed"/>
    /// (linear pages, 4 KiB aligned).
    /// </summary>
    public bool Avoids(int interval, bool endsHere, IReadOnlyCollection<ulong> read, IReadOnlyCollection<ulong> written, IReadOnlyCollection<ulong> executed)
    {
        if (interval < 0 || interval >= _pages.Length || _unknowable[interval]) return false;
        // Up to here, inside the interval the log is collecting: what it has collected so far.
        var pages = endsHere && _open == interval ? log.Peek() : _pages[interval];
        if (pages is not { } p) return false;
        return None(read, p.Read) && None(written, p.Written) && None(executed, p.Executed);
    }

    private static bool None(IReadOnlyCollection<ulong> pages, ulong[] touched) => !pages.Any(page => Array.BinarySearch(touched, page) >= 0);
}
