namespace VmReplay.Devices.Timer;

/// <summary>Complete state of a <see cref="Pit8254"/>.</summary>
public sealed record Pit8254State
{
    /// <summary>Counters 0, 1 and 2.</summary>
    public PitChannelState[] Channels { get; init; } = [];

    /// <summary>One line per counter ("ch0: ..."); see <see cref="PitChannelState.Describe"/>.</summary>
    public string Describe() => string.Join("\n", Channels.Select((c, i) => $"ch{i}: {c.Describe()}"));
}
