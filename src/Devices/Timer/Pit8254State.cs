namespace VmReplay.Devices.Timer;

/// <summary>State of one 8254 counter.</summary>
public sealed record PitChannelState
{
    public int Mode { get; init; }
    public int Access { get; init; }
    public bool Bcd { get; init; }
    public int Reload { get; init; }
    public bool Loaded { get; init; }
    public bool Gate { get; init; }
    public long RunStartNs { get; init; }
    public long TicksBeforeRun { get; init; }
    public bool Running { get; init; }
    public long EdgesDelivered { get; init; }
    public int? LatchedCount { get; init; }
    public int LatchedReads { get; init; }
    public byte? LatchedStatus { get; init; }
    public bool ReadHighNext { get; init; }
    public bool WriteHighNext { get; init; }
    public byte PendingLow { get; init; }
}

/// <summary>State of the 8254.</summary>
public sealed record Pit8254State(PitChannelState[] Channels, bool SpeakerEnabled);
