using System.Globalization;

namespace VmReplay.Cli;

/// <summary>Parses sizes such as <c>64M</c>, <c>1G</c>, <c>65536</c> (binary units).</summary>
internal static class ByteSize
{
    public static bool TryParse(string text, out ulong bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0) return false;
        ulong unit = 1;
        char last = char.ToUpperInvariant(text[^1]);
        if (last == 'B' && text.Length > 1) { text = text[..^1]; last = char.ToUpperInvariant(text[^1]); }
        switch (last)
        {
            case 'K': unit = 1UL << 10; break;
            case 'M': unit = 1UL << 20; break;
            case 'G': unit = 1UL << 30; break;
        }
        if (unit != 1) text = text[..^1];
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) return false;
        if (n > ulong.MaxValue / unit) return false;
        bytes = n * unit;
        return true;
    }
}
