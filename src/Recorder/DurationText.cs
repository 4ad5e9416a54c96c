using System.Globalization;

namespace VmReplay.Recorder;

/// <summary>
/// Durations as the command line gives them: a non-negative number and a unit, <c>ns</c>,
/// <c>us</c>, <c>ms</c> or <c>s</c> (<c>200ms</c>, <c>1.5s</c>). Each caller bounds the value.
/// </summary>
public static class DurationText
{
    /// <summary>The duration in nanoseconds, unrounded; false when <paramref name="text"/> is not one.</summary>
    public static bool TryParse(string text, out double nanoseconds)
    {
        nanoseconds = 0;
        string t = text.Trim().ToLowerInvariant();
        foreach (var (suffix, scale) in new[] { ("ns", 1L), ("us", 1_000L), ("ms", 1_000_000L), ("s", 1_000_000_000L) })
        {
            if (!t.EndsWith(suffix, StringComparison.Ordinal)) continue;
            if (!double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0) return false;
            nanoseconds = v * scale;
            return true;
        }
        return false;
    }
}
