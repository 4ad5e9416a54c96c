namespace VmReplay.Replayer;

/// <summary>
/// Where a replay on a CPU that counts instructions is (see <see cref="InstructionPosition"/>),
/// kept up to date at every run-loop stop, and what runs have learnt about the timeline: how many
/// interrupt deliveries each instruction count they passed had. That last is what stepping back
/// from (N, 0) needs: the position before it is N-1 after all of N-1's deliveries.
/// </summary>
/// <remarks>
/// Deliveries happen only at run-loop stops, and a run that pauses after each delivery sees them
/// all; so a run that went from stop at count a to stop at count b knows every count in [a, b):
/// a has the deliveries it saw there, the counts after it none.
/// </remarks>
internal sealed class InstructionTimeline
{
    private readonly Dictionary<long, int> _deliveries = new();
    private readonly List<(long From, long To)> _known = new();
    private long _count = -1;
    private long _deliveredBase;

    /// <summary>The position now.</summary>
    public InstructionPosition Here { get; private set; }

    /// <summary>The position at the stop before this one in the same run (where an instruction that just retired began, when it was the only one since).</summary>
    public InstructionPosition? Previous { get; private set; }

    /// <summary>The machine was put at count <paramref name="count"/> with no delivery made there yet (a restored snapshot, taken at an exit).</summary>
    public void StandAt(long count, long interruptsDelivered)
    {
        _count = count;
        _deliveredBase = interruptsDelivered;
        Here = new InstructionPosition(count, 0);
        Previous = null;
    }

    /// <summary>
    /// A run-loop stop at <paramref name="count"/> retired instructions, <paramref name="interruptsDelivered"/>
    /// deliveries in all; returns the position. <paramref name="complete"/>: the run stops after
    /// every delivery, so what it passed is learnt.
    /// </summary>
    public InstructionPosition Observe(long count, long interruptsDelivered, bool complete)
    {
        Previous = Here;
        if (count != _count)
        {
            if (complete && _count >= 0 && count > _count) Learn(_count, count);
            _count = count;
            _deliveredBase = interruptsDelivered;
        }
        Here = new InstructionPosition(count, (int)(interruptsDelivered - _deliveredBase));
        if (complete && Here.Deliveries > 0) _deliveries[count] = Math.Max(Here.Deliveries, _deliveries.GetValueOrDefault(count));
        return Here;
    }

    /// <summary>
    /// Where the access that stopped the run at count <paramref name="count"/> began: the previous
    /// stop if it was at the count before (the instruction that retired) or at this count (an
    /// instruction that faulted after its access retired nothing), else the count before with no
    /// deliveries (a free run passes counts with none without stopping).
    /// </summary>
    public InstructionPosition Before(long count) =>
        Previous is { } p && (p.Instructions == count - 1 || p.Instructions == count) ? p : new InstructionPosition(count - 1, 0);

    /// <summary>The deliveries made at <paramref name="count"/>, where a run passed it; null where none did.</summary>
    public int? DeliveriesAt(long count)
    {
        foreach (var (from, to) in _known)
            if (count >= from && count < to) return _deliveries.GetValueOrDefault(count);
        return null;
    }

    private void Learn(long from, long to)
    {
        for (int i = 0; i < _known.Count; i++)
        {
            var k = _known[i];
            if (from <= k.To && k.From <= to)
            {
                _known[i] = (Math.Min(from, k.From), Math.Max(to, k.To));
                return;
            }
        }
        _known.Add((from, to));
    }
}
