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

    /// <summary>
    /// The counter in the datasheet's terms, on one line: the control word (mode, read/write
    /// access, BCD), the count register with the period it gives at the PC's 1,193,182 Hz clock,
    /// GATE, whether the counting element runs, and any latch or half-written count.
    /// </summary>
    public string Describe()
    {
        int effective = PitChannel.EffectiveModeOf(Mode);
        string mode = effective == Mode ? $"mode {Mode} ({ModeName(Mode)})" : $"mode {Mode} (= {effective}, {ModeName(effective)})";
        var parts = new List<string> { mode, $"access {AccessName(Access)}" };
        if (Bcd) parts.Add("BCD");
        if (!HasCount && !ElementLoaded) parts.Add("no count written");
        else
        {
            // A count is decoded here, so the hex is only the chip's form when it counts in binary.
            string hex = Bcd ? "" : $"0x{CountRegister % 0x10000:x4}, ";
            parts.Add($"count {CountRegister} ({hex}{PeriodText(CountRegister, effective)})");
        }
        if (ElementLoaded && ElementReload != CountRegister) parts.Add($"counting from {ElementReload}");
        if (ReloadPending) parts.Add("new count at the end of this period");
        if (NullCount && HasCount) parts.Add("null count");
        parts.Add($"gate {(Gate ? 1 : 0)}");
        parts.Add(Running ? "running" : ElementLoaded ? "stopped" : HasCount ? "waiting for a gate trigger" : "idle");
        if (WriteHighNext) parts.Add($"low byte {PendingLow:x2} written, high byte expected");
        if (LatchedCount is { } latched) parts.Add($"latched count {latched:x4}");
        if (LatchedStatus is { } status) parts.Add($"latched status {status:x2}");
        return string.Join(", ", parts);
    }

    // Intel 8254 datasheet, "Mode Definitions".
    private static string ModeName(int mode) => mode switch
    {
        0 => "interrupt on terminal count",
        1 => "hardware retriggerable one-shot",
        2 => "rate generator",
        3 => "square wave generator",
        4 => "software triggered strobe",
        _ => "hardware triggered strobe",
    };

    private static string AccessName(int access) => access switch
    {
        1 => "lo byte",
        2 => "hi byte",
        _ => "lo/hi",
    };

    // Modes 2 and 3 repeat, so the count is a frequency; the others count down once.
    private static string PeriodText(int count, int mode)
    {
        double ms = count * 1000.0 / Pit8254.FrequencyHz;
        return mode is 2 or 3 ? $"{ms:0.000} ms, {Pit8254.FrequencyHz / (double)count:0.00} Hz" : $"{ms:0.000} ms";
    }
}
