using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Timer;

/// <summary>
/// The Intel 8254 programmable interval timer at ports 0x40-0x43 (datasheet 231164): three
/// counters with modes 0-5 (0, 2 and 3 exact; 1, 4 and 5 approximate), lobyte/hibyte access,
/// counter latch, read-back and BCD. Counter 0's OUT drives IRQ 0; counter 2's gate and OUT are
/// wired to port 0x61. Time comes only from the engine clock; IRQ 0 edges are raised by
/// <see cref="AdvanceTo"/>, and several overdue periods collapse into one edge, as a late
/// timer interrupt does on real hardware.
/// </summary>
public sealed class Pit8254 : IBusDevice, ITimedDevice, IStatefulDevice<Pit8254State>
{
    /// <summary>The 8254's input clock on a PC: 14.31818 MHz / 12.</summary>
    public const long FrequencyHz = PitChannel.FrequencyHz;

    private readonly IEngineClock _clock;
    private readonly IIrqLine _irq0;
    private readonly PitChannel[] _channels = [new(), new(), new() { Gate = false }];
    private bool _speaker;

    public Pit8254(IEngineClock clock, IIrqLine irq0)
    {
        _clock = clock;
        _irq0 = irq0;
    }

    public long? NextDeadlineNanoseconds => _channels[0].NextEdgeTime();

    public void AdvanceTo(long nowNanoseconds)
    {
        var c = _channels[0];
        long edges = c.Edges(nowNanoseconds);
        if (edges <= c.EdgesDelivered) return;
        c.EdgesDelivered = edges;
        _irq0.SetLevel(true);
        if (c.Mode != 0) _irq0.SetLevel(false);
    }

    /// <summary>Counter 2's gate (port 0x61 bit 0).</summary>
    public void SetChannel2Gate(bool high) => _channels[2].SetGate(high, _clock.ReadNanoseconds());

    public bool Channel2Gate => _channels[2].Gate;

    /// <summary>Counter 2's OUT (port 0x61 bit 5).</summary>
    public bool Channel2Output => _channels[2].Output(_clock.ReadNanoseconds());

    /// <summary>Speaker data enable (port 0x61 bit 1), kept for the register's read-back.</summary>
    public bool SpeakerEnabled { get => _speaker; set => _speaker = value; }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(0);
        if (offset >= 3) { data[0] = 0xFF; return; } // the control word register is write-only
        var c = _channels[offset];
        if (c.LatchedStatus is { } status)
        {
            data[0] = status;
            c.LatchedStatus = null;
            return;
        }
        int value;
        bool high;
        if (c.LatchedCount is { } latched)
        {
            value = latched;
            high = c.Access == 2 || (c.Access == 3 && c.LatchedReads == 1);
            c.LatchedReads++;
            if (c.Access != 3 || c.LatchedReads == 2) { c.LatchedCount = null; c.LatchedReads = 0; }
        }
        else
        {
            value = c.Encode(c.Count(_clock.ReadNanoseconds()));
            high = c.Access == 2 || (c.Access == 3 && c.ReadHighNext);
            if (c.Access == 3) c.ReadHighNext = !c.ReadHighNext;
        }
        data[0] = (byte)(high ? value >> 8 : value);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = data[0];
        if (offset == 3)
        {
            ControlWord(v);
            return;
        }
        var c = _channels[offset];
        switch (c.Access)
        {
            case 1: c.Load(v, _clock.ReadNanoseconds()); break;
            case 2: c.Load(v << 8, _clock.ReadNanoseconds()); break;
            default:
                if (!c.WriteHighNext) { c.PendingLow = v; c.WriteHighNext = true; }
                else { c.WriteHighNext = false; c.Load(c.PendingLow | v << 8, _clock.ReadNanoseconds()); }
                break;
        }
        if (offset == 0) SyncIrq0();
    }

    private void ControlWord(byte v)
    {
        int sc = v >> 6;
        if (sc == 3)
        {
            ReadBack(v);
            return;
        }
        var c = _channels[sc];
        int access = (v >> 4) & 3;
        if (access == 0)
        {
            // Counter latch command: a second latch before the read is ignored.
            c.LatchedCount ??= c.Encode(c.Count(_clock.ReadNanoseconds()));
            return;
        }
        c.Access = access;
        int mode = (v >> 1) & 7;
        c.Mode = mode > 5 ? mode - 4 : mode; // 6 and 7 alias modes 2 and 3
        c.Bcd = (v & 1) != 0;
        c.Loaded = false;
        c.Running = false;
        c.ReadHighNext = c.WriteHighNext = false;
        c.LatchedCount = null;
        c.LatchedStatus = null;
        if (sc == 0) SyncIrq0();
    }

    private void ReadBack(byte v)
    {
        long now = _clock.ReadNanoseconds();
        for (int i = 0; i < 3; i++)
        {
            if ((v & (2 << i)) == 0) continue;
            var c = _channels[i];
            if ((v & 0x20) == 0) c.LatchedCount ??= c.Encode(c.Count(now));
            if ((v & 0x10) == 0) c.LatchedStatus ??= c.Status(now);
        }
    }

    // Mode 0 holds OUT low from the control word until terminal count; keep the wire in step.
    private void SyncIrq0()
    {
        var c = _channels[0];
        if (c.Mode == 0) _irq0.SetLevel(false);
    }

    public Pit8254State SaveState() => new(_channels.Select(c => new PitChannelState
    {
        Mode = c.Mode, Access = c.Access, Bcd = c.Bcd, Reload = c.Reload, Loaded = c.Loaded, Gate = c.Gate,
        RunStartNs = c.RunStartNs, TicksBeforeRun = c.TicksBeforeRun, Running = c.Running, EdgesDelivered = c.EdgesDelivered,
        LatchedCount = c.LatchedCount, LatchedReads = c.LatchedReads, LatchedStatus = c.LatchedStatus,
        ReadHighNext = c.ReadHighNext, WriteHighNext = c.WriteHighNext, PendingLow = c.PendingLow,
    }).ToArray(), _speaker);

    public void RestoreState(Pit8254State state)
    {
        for (int i = 0; i < 3; i++)
        {
            var s = state.Channels[i];
            var c = _channels[i];
            c.Mode = s.Mode; c.Access = s.Access; c.Bcd = s.Bcd; c.Reload = s.Reload; c.Loaded = s.Loaded; c.Gate = s.Gate;
            c.RunStartNs = s.RunStartNs; c.TicksBeforeRun = s.TicksBeforeRun; c.Running = s.Running; c.EdgesDelivered = s.EdgesDelivered;
            c.LatchedCount = s.LatchedCount; c.LatchedReads = s.LatchedReads; c.LatchedStatus = s.LatchedStatus;
            c.ReadHighNext = s.ReadHighNext; c.WriteHighNext = s.WriteHighNext; c.PendingLow = s.PendingLow;
        }
        _speaker = state.SpeakerEnabled;
    }
}
