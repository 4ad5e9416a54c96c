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

    /// <summary>
    /// The chip as its datasheet names things, on one line: IRR, ISR and IMR in hex, the ICW2
    /// vector base, the ICW3 cascade wiring, the ICW4 and OCW modes that differ from the usual
    /// ones, and how far initialisation has got.
    /// </summary>
    /// <param name="slave">
    /// The chip is a slave: on the 8259A the SP/EN pin, which is wiring rather than state, decides
    /// whether ICW3 is a map of slaves (master) or the chip's own cascade ID (slave).
    /// </param>
    public string Describe(bool slave)
    {
        var parts = new List<string> { $"IRR {Irr:x2} ISR {Isr:x2} IMR {Imr:x2}", $"inputs {InputLevels:x2}", $"vector base 0x{VectorBase:x2}" };
        if (Single) parts.Add("single (no cascade)");
        else if (slave) parts.Add($"cascade ID {Icw3 & 7}");
        else
        {
            var irs = Enumerable.Range(0, 8).Where(i => (Icw3 & 1 << i) != 0).Select(i => $"IR{i}").ToList();
            parts.Add(irs.Count == 0 ? "cascade, no slave" : $"cascade: slave on {string.Join(", ", irs)}");
        }
        parts.Add(Icw4Needed ? "ICW4 yes" : "ICW4 no");
        parts.Add(AutoEoi ? "auto EOI" + (RotateOnAutoEoi ? " (rotating)" : "") : "normal EOI");
        if (SpecialFullyNested) parts.Add("special fully nested");
        if (SpecialMask) parts.Add("special mask");
        // IR7 lowest is the fixed-priority order every ICW1 sets; anything else is a rotation.
        if (LowestPriority != 7) parts.Add($"lowest priority IR{LowestPriority}");
        parts.Add(ReadIsr ? "OCW3 reads ISR" : "OCW3 reads IRR");
        if (Poll) parts.Add("poll command pending");
        parts.Add(InitStep == 0 ? "(init done)" : $"(initialising: expects ICW{InitStep})");
        return string.Join("  ", parts);
    }
}
