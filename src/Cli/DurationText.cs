using System.Globalization;

namespace VmReplay.Cli;

/// <summary>Parses durations such as <c>200ms</c>, <c>1s</c>, <c>500us</c> into nanoseconds.</summary>
internal static class DurationText
{
    public static bool TryParse(string text, out long nanoseconds)
    {
        nanoseconds = 0;
        string t = text.Trim().ToLowerInvariant();
        foreach (var (suffix, scale) in new[] { ("ns", 1L), ("us", 1_000L), ("ms", 1_000_000L), ("s", 1_000_000_000L) })
        {
            if (!t.EndsWith(suffix, StringComparison.Ordinal)) continue;
            if (!double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || v * scale > long.MaxValue / 2)
                return false;
            nanoseconds = (long)(v * scale);
            return true;
        }
        return false;
    }
}
