using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Timer;

/// <summary>
/// Port 0x61, system control port B of the PC/AT (one port, offset 0). Writable bits 0-3: bit 0
/// gates 8254 counter 2, bit 1 enables the speaker data, bits 2-3 enable the parity and I/O
/// channel checks (kept, nothing raises them). Read-only bits: 4 the refresh-request toggle,
/// 5 counter 2's OUT, 6-7 the check status (always 0).
/// </summary>
/// <remarks>
/// On hardware bit 4 toggles every 15.085 µs with DRAM refresh. Here it toggles on every read:
/// delay loops that wait for it to change still end, and its value stays a function of the
/// guest's own accesses rather than of host time.
/// </remarks>
public sealed class SystemControlPortB : IBusDevice, IStatefulDevice<SystemControlPortBState>
{
    // IBM PC/AT Technical Reference, "System Control Port B" (I/O 0x61).
    private const byte Timer2Gate = 0x01, SpeakerData = 0x02, Writable = 0x0F;
    private const byte RefreshToggle = 0x10, Timer2Out = 0x20;

    private readonly Pit8254 _pit;
    private byte _control;
    private bool _refresh;

    /// <param name="pit">The 8254 whose counter 2 this port gates and reads.</param>
    public SystemControlPortB(Pit8254 pit) => _pit = pit;

    /// <summary>Speaker data enable (bit 1): counter 2's OUT reaches the speaker.</summary>
    public bool SpeakerEnabled => (_control & SpeakerData) != 0;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        _refresh = !_refresh;
        data[0] = (byte)(_control | (_refresh ? RefreshToggle : 0) | (_pit.Channel2Output ? Timer2Out : 0));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        _control = (byte)(data[0] & Writable);
        _pit.SetChannel2Gate((_control & Timer2Gate) != 0);
    }

    /// <remarks>Counter 2's gate level is part of the PIT's state, restored with it.</remarks>
    public SystemControlPortBState SaveState() => new() { Control = _control, RefreshToggle = _refresh };

    public void RestoreState(SystemControlPortBState state)
    {
        _control = (byte)(state.Control & Writable);
        _refresh = state.RefreshToggle;
    }
}
