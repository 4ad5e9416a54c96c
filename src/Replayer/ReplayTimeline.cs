namespace VmReplay.Replayer;

/// <summary>
/// The replay's own timeline: the last natural stop the machine passed (its anchor), the
/// instruction boundaries crossed since, and, for every natural stop a run reached, the natural
/// stop before it and how many boundaries lie between.
/// </summary>
/// <remarks>
/// Natural stops are the exits and the recorded forced points (where DR0 fires): they happen in
/// every replay, free-running or stepping, with or without a debugger's breakpoints, so positions
/// counted from them mean the same machine state in every replay. A free run passes boundaries
/// without counting them, so between its stops the offset is unknown.
/// </remarks>
internal sealed class ReplayTimeline
{
    private readonly StopLinks _links = new();
    private long _boundaries;
    private bool _boundariesKnown = true;

    /// <summary>The last natural stop passed, named by the events consumed at it.</summary>
    public long Anchor { get; private set; }

    /// <summary>Where the machine is: <c>(Anchor, boundaries since)</c>; null while the offset is unknown.</summary>
    public ReplayPosition? Here => _boundariesKnown ? new ReplayPosition(Anchor, _boundaries) : null;

    /// <summary>The natural stop before natural stop <paramref name="anchor"/>, and the boundaries between (-1 when not counted), if a run saw both.</summary>
    public (long Previous, long Instructions)? LinkBefore(long anchor) => _links.Get(anchor);

    /// <summary>
    /// <paramref name="target"/> named by its natural stop: an event consumed at the stop the
    /// machine stands on (a stop consumes several) names that same stop.
    /// </summary>
    public ReplayPosition NamedByItsStop(ReplayPosition target) =>
        target.Event < Anchor && _links.Get(Anchor) is { } link && target.Event > link.Previous
            ? target with { Event = Anchor }
            : target;

    /// <summary>Whether running on reaches <paramref name="target"/>: the machine has not passed it yet.</summary>
    public bool IsAhead(ReplayPosition target) =>
        target.Event > Anchor || target.Event == Anchor && _boundariesKnown && target.Instructions >= _boundaries;

    /// <summary>The machine stands on natural stop <paramref name="anchor"/> (a restored snapshot).</summary>
    public void StandAt(long anchor)
    {
        Anchor = anchor;
        _boundaries = 0;
        _boundariesKnown = true;
    }

    /// <summary>
    /// A run reached a natural stop at which <paramref name="consumed"/> events have been consumed;
    /// <paramref name="counted"/> says whether it counted every boundary since the anchor
    /// (single-stepping). Returns whether the stop is a new anchor (the run's position is then known).
    /// </summary>
    public bool ReachNaturalStop(long consumed, bool counted)
    {
        if (consumed <= Anchor) return false;
        _links.Set(consumed, Anchor, counted && _boundariesKnown ? _boundaries : -1);
        StandAt(consumed);
        return true;
    }

    /// <summary>Single-stepping crossed one instruction boundary.</summary>
    public void CrossBoundary() => _boundaries++;

    /// <summary>A free run went past the anchor without counting boundaries: the offset is unknown until the next anchor.</summary>
    public void LoseCount() => _boundariesKnown = false;

    /// <summary>
    /// The links by natural stop, in pages of an array indexed by event number: nearly every
    /// event is a natural stop, and a dictionary of them spent more time growing than the
    /// replay spent on the exits (and twice the memory).
    /// </summary>
    private sealed class StopLinks
    {
        private const int PageBits = 12;
        // Previous is stored plus one, so that a zeroed entry means no link.
        private readonly List<(long PreviousPlusOne, long Instructions)[]?> _pages = new();

        public (long Previous, long Instructions)? Get(long stop)
        {
            long page = stop >> PageBits;
            if (stop < 0 || page >= _pages.Count || _pages[(int)page] is not { } entries) return null;
            var e = entries[stop & ((1 << PageBits) - 1)];
            return e.PreviousPlusOne == 0 ? null : (e.PreviousPlusOne - 1, e.Instructions);
        }

        // The page the last link went to: a run sets thousands in a row on one page.
        private long _lastPage = -1;
        private (long PreviousPlusOne, long Instructions)[]? _lastEntries;

        public void Set(long stop, long previous, long instructions)
        {
            long page = stop >> PageBits;
            var entries = page == _lastPage ? _lastEntries! : PageFor(page);
            entries[stop & ((1 << PageBits) - 1)] = (previous + 1, instructions);
        }

        private (long, long)[] PageFor(long page)
        {
            int index = checked((int)page);
            while (_pages.Count <= index) _pages.Add(null);
            _lastPage = page;
            return _lastEntries = _pages[index] ??= new (long, long)[1 << PageBits];
        }
    }
}
