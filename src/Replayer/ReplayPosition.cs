namespace VmReplay.Replayer;

/// <summary>
/// A point in a replay: pause at the first run-loop stop at which <see cref="Event"/> recorded
/// events have been consumed, then execute <see cref="Instructions"/> more guest instructions
/// (counted by single-stepping; an instruction the VMM emulates counts as one). Every replay of
/// the trace reaches the same machine state at the same position. Positions order by event,
/// then instructions.
/// </summary>
public readonly record struct ReplayPosition(long Event, long Instructions) : IComparable<ReplayPosition>
{
    public int CompareTo(ReplayPosition other) =>
        Event != other.Event ? Event.CompareTo(other.Event) : Instructions.CompareTo(other.Instructions);

    public static bool operator <(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) < 0;
    public static bool operator >(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) > 0;
    public static bool operator <=(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) >= 0;

    public override string ToString() => Instructions == 0 ? $"event {Event}" : $"event {Event} + {Instructions} instructions";
}
