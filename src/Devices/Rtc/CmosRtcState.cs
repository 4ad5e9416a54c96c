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
}
