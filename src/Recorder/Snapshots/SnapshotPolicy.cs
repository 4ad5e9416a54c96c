using System.Globalization;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// When a recording takes periodic snapshots: every <see cref="Nanoseconds"/> of guest (engine)
/// time, or every <see cref="Exits"/> exits. Guest time is the latest engine-clock reading the
/// machine made, so the choice never reads the host clock itself.
/// </summary>
public sealed record SnapshotPolicy(long? Nanoseconds, long? Exits)
{
    public static readonly SnapshotPolicy Default = new(50_000_000, null);

    /// <summary>Parses "50ms", "2s", "500us" (guest time) or a plain count of exits; "0" or "off" for only the initial snapshot.</summary>
    public static SnapshotPolicy Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t is "off" or "0") return new(null, null);
        if (DurationText.TryParse(t, out double ns) && ns > 0 && ns <= long.MaxValue) return new((long)ns, null);
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long exits) && exits > 0) return new(null, exits);
        throw new FormatException($"'{text}' is not a snapshot interval: give guest time (50ms, 1s) or a number of exits");
    }

    public override string ToString() =>
        Nanoseconds is { } ns ? $"every {ns / 1e6:0.###} ms of guest time" : Exits is { } n ? $"every {n} exits" : "initial snapshot only";
}
