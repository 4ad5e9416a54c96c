namespace VmReplay.Devices.Interrupts;

/// <summary>Complete state of a <see cref="DualPic8259"/>.</summary>
public sealed record DualPic8259State
{
    public Pic8259State Master { get; init; } = new();
    public Pic8259State Slave { get; init; } = new();

    /// <summary>Both chips, one line each ("master: ...", "slave: ..."); see <see cref="Pic8259State.Describe"/>.</summary>
    public string Describe() => $"master: {Master.Describe(slave: false)}\nslave:  {Slave.Describe(slave: true)}";
}
