namespace VmReplay.Devices.Interrupts;

/// <summary>Complete state of one 8259A.</summary>
public sealed record Pic8259State
{
    public byte Irr { get; init; }
    public byte Isr { get; init; }
    public byte Imr { get; init; }
    public byte LineLevels { get; init; }
    public int InitStep { get; init; }
    public bool Icw4Needed { get; init; }
    public bool Single { get; init; }
    public byte VectorBase { get; init; }
    public byte Icw3 { get; init; }
    public bool AutoEoi { get; init; }
    public bool RotateOnAutoEoi { get; init; }
    public bool ReadIsr { get; init; }
    public bool Poll { get; init; }
    public bool SpecialMask { get; init; }
    public int PriorityBase { get; init; }
}
