namespace VmReplay.Devices.Rtc;

/// <summary>Complete state of a <see cref="CmosRtc"/>.</summary>
public sealed record CmosRtcState
{
    /// <summary>The selected CMOS byte (0-127).</summary>
    public byte Index { get; init; }

    public bool NmiDisabled { get; init; }

    /// <summary>The 128 CMOS bytes; the time registers hold the guest's values while SET is on.</summary>
    public byte[] Ram { get; init; } = [];

    /// <summary>The base time (DateTime ticks) the clock counts from at engine time 0.</summary>
    public long BaseTicks { get; init; }

    /// <summary>Whole seconds the guest moved the clock by setting it.</summary>
    public long OffsetSeconds { get; init; }

    /// <summary>Day of week as set by the guest, relative to the date's (0-6).</summary>
    public int DayOfWeekOffset { get; init; }

    /// <summary>Engine time up to which register C's flags have been worked out.</summary>
    public long EvaluatedNs { get; init; }

    /// <summary>
    /// The RTC in MC146818A terms: the index port and NMI mask, registers A-D in hex with their
    /// bits named, the clock's base and the guest's adjustment, then all CMOS bytes as hex rows of 16.
    /// The time bytes (00-09, 32) in the dump are what the guest last wrote: the running time is
    /// worked out from the clock when read, and is in them only while SET is on.
    /// </summary>
    public string Describe()
    {
        byte a = At(0x0A), b = At(0x0B), c = At(0x0C), d = At(0x0D);
        int rate = a & 0x0F;
        // MC146818A Table 4: with the 32.768 kHz time base, rates 1 and 2 repeat 8 and 9.
        string periodic = rate == 0 ? "no periodic rate" : $"periodic {(rate switch { 1 => 256, 2 => 128, _ => 32_768 >> (rate - 1) })} Hz";
        string bFlags = string.Join(", ", new[]
        {
            (b & 0x80) != 0 ? "SET" : null,
            (b & 0x04) != 0 ? "binary" : "BCD",
            (b & 0x02) != 0 ? "24-hour" : "12-hour",
            (b & 0x40) != 0 ? "PIE" : null,
            (b & 0x20) != 0 ? "AIE" : null,
            (b & 0x10) != 0 ? "UIE" : null,
            (b & 0x08) != 0 ? "SQWE" : null,
            (b & 0x01) != 0 ? "DSE" : null,
        }.Where(s => s is not null));
        // IRQF is not stored: the chip sets it while a flag in C has its enable bit in B.
        bool irqf = (c & b & 0x70) != 0;
        string cFlags = string.Join(" ", new[] { irqf ? "IRQF" : null, (c & 0x40) != 0 ? "PF" : null, (c & 0x20) != 0 ? "AF" : null, (c & 0x10) != 0 ? "UF" : null }
            .Where(s => s is not null));
        var lines = new List<string>
        {
            $"index {Index:x2}, NMI {(NmiDisabled ? "disabled" : "enabled")}; A {a:x2} (DV {a >> 4 & 7}, {periodic}), B {b:x2} ({bFlags}), " +
            $"C {c:x2}{(cFlags == "" ? "" : $" ({cFlags})")}, D {d:x2} ({((d & 0x80) != 0 ? "VRT" : "RAM/time not valid")})",
            $"clock from {new DateTime(BaseTicks):yyyy-MM-dd HH:mm:ss} at engine time 0, " +
            (OffsetSeconds == 0 ? "not set by the guest" : $"set by the guest by {OffsetSeconds:+0;-0} s") +
            (DayOfWeekOffset != 0 ? $", day of week +{DayOfWeekOffset}" : "") +
            ((b & 0x80) != 0 ? "; SET: the time bytes hold the guest's values" : "; time bytes below: last written (the running time is computed when read)"),
        };
        for (int row = 0; row < Ram.Length; row += 16)
        {
            string bytes = string.Join(" ", Ram.Skip(row).Take(16).Select(v => v.ToString("x2")));
            lines.Add($"{(row == 0 ? "CMOS" : "    ")} {row:x2}: {bytes}");
        }
        return string.Join("\n", lines);
    }

    private byte At(int index) => index < Ram.Length ? Ram[index] : (byte)0;
}
