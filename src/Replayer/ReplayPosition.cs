namespace VmReplay.Replayer;

/// <summary>
/// A point in a replay: pause at the first natural stop (an exit, or a recorded forced point) at
/// which <see cref="Event"/> recorded events have been consumed, then cross
/// <see cref="Instructions"/> instruction boundaries by single-stepping (an instruction the VMM
/// completes or emulates counts as one, and so does an interrupt delivery). Every replay of the
/// trace reaches the same machine state at the same position (traces/FORMAT.md, "Positions").
/// Positions order by event, then instructions.
/// </summary>
public readonly record struct ReplayPosition(long Event, long Instructions) : IComparable<ReplayPosition>
{
    public int CompareTo(ReplayPosition other) =>
        Event != other.Event ? Event.CompareTo(other.Event) : Instructions.CompareTo(other.Instructions);

    public static bool operator <(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) < 0;
    public static bool operator >(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) > 0;
    public static bool operator <=(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ReplayPosition a, ReplayPosition b) => a.CompareTo(b) >= 0;

    /// <summary>Reads "1200" (event 1200) or "1200+35" (35 instructions after it); null if it is neither.</summary>
    public static ReplayPosition? TryParse(string text)
    {
        var parts = text.Split('+');
        if (parts.Length > 2 || !long.TryParse(parts[0], out long e) || e < 0) return null;
        long k = 0;
        if (parts.Length == 2 && (!long.TryParse(parts[1], out k) || k < 0)) return null;
        return new ReplayPosition(e, k);
    }

    public override string ToString() => Instructions == 0 ? $"event {Event}" : $"event {Event} + {Instructions} instructions";
}
