namespace VmReplay.Devices.Interrupts;

/// <summary>Complete state of one <see cref="Pic8259"/>.</summary>
public sealed record Pic8259State
{
    public byte Irr { get; init; }
    public byte Isr { get; init; }
    public byte Imr { get; init; }

    /// <summary>The levels of IR0-IR7 as last driven, for edge detection.</summary>
    public byte InputLevels { get; init; }

    /// <summary>0 when operating; 2, 3 or 4 while expecting that ICW.</summary>
    public int InitStep { get; init; }

    public bool Icw4Needed { get; init; }
    public bool Single { get; init; }
    public byte VectorBase { get; init; }
    public byte Icw3 { get; init; }
    public bool AutoEoi { get; init; }
    public bool SpecialFullyNested { get; init; }
    public bool RotateOnAutoEoi { get; init; }
    public bool ReadIsr { get; init; }
    public bool Poll { get; init; }
    public bool SpecialMask { get; init; }

    /// <summary>The lowest-priority IR (7 after ICW1); rotation moves it.</summary>
    public int LowestPriority { get; init; } = 7;
}
