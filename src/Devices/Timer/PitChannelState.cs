namespace VmReplay.Devices.Timer;

/// <summary>State of one 8254 counter (see <see cref="Pit8254"/>); counts are decoded, times are engine-clock ns.</summary>
public sealed record PitChannelState
{
    public int Mode { get; init; }
    public int Access { get; init; } = 3;
    public bool Bcd { get; init; }
    public int CountRegister { get; init; }
    public bool HasCount { get; init; }
    public bool NullCount { get; init; } = true;
    public bool ElementLoaded { get; init; }
    public int ElementReload { get; init; }
    public bool Gate { get; init; } = true;
    public bool Running { get; init; }
    public long RunStartNs { get; init; }
    public long TicksBeforeRun { get; init; }
    public long EdgesDelivered { get; init; }
    public bool ReloadPending { get; init; }
    public long SwitchTick { get; init; }
    public int? LatchedCount { get; init; }
    public bool LatchedHighNext { get; init; }
    public byte? LatchedStatus { get; init; }
    public bool ReadHighNext { get; init; }
    public bool WriteHighNext { get; init; }
    public byte PendingLow { get; init; }
}
