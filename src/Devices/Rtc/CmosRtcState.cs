namespace VmReplay.Devices.Rtc;

/// <summary>Complete state of the CMOS/RTC.</summary>
public sealed record CmosRtcState
{
    public byte Index { get; init; }
    public bool NmiDisabled { get; init; }
    public byte[] Ram { get; init; } = [];
    public long OffsetSeconds { get; init; }
    public DateTime FrozenTime { get; init; }
}
