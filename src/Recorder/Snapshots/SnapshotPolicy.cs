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
        foreach (var (suffix, scale) in new[] { ("ns", 1L), ("us", 1_000L), ("ms", 1_000_000L), ("s", 1_000_000_000L) })
        {
            if (!t.EndsWith(suffix, StringComparison.Ordinal)) continue;
            if (double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v * scale <= long.MaxValue)
                return new((long)(v * scale), null);
            break;
        }
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long exits) && exits > 0) return new(null, exits);
        throw new FormatException($"'{text}' is not a snapshot interval: give guest time (50ms, 1s) or a number of exits");
    }

    public override string ToString() =>
        Nanoseconds is { } ns ? $"every {ns / 1e6:0.###} ms of guest time" : Exits is { } n ? $"every {n} exits" : "initial snapshot only";
}
