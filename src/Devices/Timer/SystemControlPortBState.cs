namespace VmReplay.Devices.Timer;

/// <summary>State of <see cref="SystemControlPortB"/> beyond what the PIT holds.</summary>
public sealed record SystemControlPortBState
{
    /// <summary>The writable bits 0-3 as last written.</summary>
    public byte Control { get; init; }

    public bool RefreshToggle { get; init; }

    /// <summary>
    /// The written bits by their PC/AT names (bit 0 counter 2 GATE, bit 1 speaker data, bits 2-3
    /// the parity and I/O channel check controls) and the refresh toggle bit 4 reads back.
    /// Counter 2's OUT (bit 5) is the PIT's, shown with it.
    /// </summary>
    public string Describe() =>
        $"control {Control:x2}: counter 2 gate {Control & 1}, speaker data {(Control >> 1) & 1}, check bits 2-3 {(Control >> 2) & 3}; refresh toggle {(RefreshToggle ? 1 : 0)}";
}
