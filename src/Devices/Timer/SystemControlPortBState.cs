namespace VmReplay.Devices.Timer;

/// <summary>State of <see cref="SystemControlPortB"/> beyond what the PIT holds.</summary>
public sealed record SystemControlPortBState
{
    /// <summary>The writable bits 0-3 as last written.</summary>
    public byte Control { get; init; }

    public bool RefreshToggle { get; init; }
}
