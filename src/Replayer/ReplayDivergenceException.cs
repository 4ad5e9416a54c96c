namespace VmReplay.Replayer;

/// <summary>The replay did something other than what was recorded, at <see cref="EventIndex"/>.</summary>
public sealed class ReplayDivergenceException(long eventIndex, string expected, string actual)
    : Exception($"replay diverged at event {eventIndex}: expected {expected}, got {actual}")
{
    public long EventIndex { get; } = eventIndex;
    public string Expected { get; } = expected;
    public string Actual { get; } = actual;
}
