using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Timer;

/// <summary>
/// Port 0x61 (PC/AT system control port B): bit 0 gates 8254 counter 2, bit 1 enables the
/// speaker, bit 4 is the refresh-request toggle and bit 5 reads counter 2's OUT. The refresh bit
/// flips on every read instead of every 15 µs: delay loops that wait for it to change still
/// terminate, and the value stays a function of the guest's own accesses.
/// </summary>
public sealed class SystemControlPortB(Pit8254 pit) : IBusDevice, IStatefulDevice<SystemControlPortBState>
{
    private bool _refresh;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(0);
        _refresh = !_refresh;
        data[0] = (byte)((pit.Channel2Gate ? 1 : 0) | (pit.SpeakerEnabled ? 2 : 0) | (_refresh ? 0x10 : 0) | (pit.Channel2Output ? 0x20 : 0));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        pit.SetChannel2Gate((data[0] & 1) != 0);
        pit.SpeakerEnabled = (data[0] & 2) != 0;
    }

    public SystemControlPortBState SaveState() => new(_refresh);

    public void RestoreState(SystemControlPortBState state) => _refresh = state.RefreshToggle;
}
