using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Timer;

/// <summary>
/// The Intel 8254 programmable interval timer (datasheet order 231164), registered over four
/// ports (0x40-0x43 on a PC): counters 0-2 at offsets 0-2, the write-only control word at 3.
/// Modes 0-5, lobyte/hibyte/both access, counter latch, read-back, BCD. The counters are
/// clocked at <see cref="FrequencyHz"/>.
/// </summary>
/// <remarks>
/// <para>Counts are computed from engine-clock readings, never by stepping; the clock is read only
/// when a count, OUT or status is needed or a count is loaded.</para>
/// <para>Counter 0's OUT drives IRQ 0. Its rising edges are signalled by <see cref="AdvanceTo"/>:
/// in mode 0 the line goes high at terminal count and stays high, as OUT does; in the other modes
/// each edge is a pulse (high then low). Several periods that fell due before one
/// <see cref="AdvanceTo"/> collapse into a single pulse, as an edge-triggered PIC that has not had
/// its request acknowledged would see them.</para>
/// <para>Counters 0 and 1 have their gates tied high, as on a PC; counter 2's gate and OUT are
/// wired to port 0x61 (<see cref="SystemControlPortB"/>).</para>
/// </remarks>
public sealed class Pit8254 : IBusDevice, ITimedDevice, IStatefulDevice<Pit8254State>
{
    /// <summary>The input clock on a PC: 14.31818 MHz / 12 = 1,193,182 Hz.</summary>
    public const long FrequencyHz = PitChannel.FrequencyHz;

    // Control Word Format: SC1..SC0 in bits 7-6 (3: read-back), RW1..RW0 in 5-4 (0: latch),
    // M2..M0 in 3-1, BCD in bit 0. Read-Back Command: bit 5 = !COUNT, bit 4 = !STATUS, bits 3-1 = CNT2..CNT0.
    private const int ControlPort = 3;
    private const int ReadBackSelect = 3;
    private const byte ReadBackNoCount = 0x20, ReadBackNoStatus = 0x10;

    private readonly IEngineClock _clock;
    private readonly IIrqLine _irq0;
    // Counter 2's gate comes from port 0x61 bit 0, which is 0 at reset.
    private readonly PitChannel[] _channels = [new(), new(), new() { Gate = false }];

    /// <param name="clock">The only time source; read when a count or OUT is needed.</param>
    /// <param name="irq0">Counter 0's OUT: the IRQ 0 wire.</param>
    public Pit8254(IEngineClock clock, IIrqLine irq0)
    {
        _clock = clock;
        _irq0 = irq0;
    }

    /// <summary>Time of counter 0's next rising OUT edge not yet signalled, or null if it is not counting towards one.</summary>
    public long? NextDeadlineNanoseconds => _channels[0].NextEdgeTime();

    /// <summary>Signals counter 0's rising edges due by <paramref name="nowNanoseconds"/> on IRQ 0 (at most one pulse per call).</summary>
    public void AdvanceTo(long nowNanoseconds)
    {
        var c = _channels[0];
        c.Settle(nowNanoseconds);
        long edges = c.Edges(nowNanoseconds);
        if (edges <= c.EdgesDelivered) return;
        c.EdgesDelivered = edges;
        _irq0.SetLevel(true);
        if (c.EffectiveMode is not (0 or 1)) _irq0.SetLevel(false); // modes 0 and 1 hold OUT high after terminal count
    }

    /// <summary>Counter 2's GATE input (port 0x61 bit 0).</summary>
    public bool Channel2Gate => _channels[2].Gate;

    /// <summary>Drives counter 2's GATE input; the clock is read only if the level changes.</summary>
    public void SetChannel2Gate(bool high)
    {
        var c = _channels[2];
        if (c.Gate != high) c.SetGate(high, _clock.ReadNanoseconds());
    }

    /// <summary>Counter 2's OUT pin now (port 0x61 bit 5); reads the clock.</summary>
    public bool Channel2Output
    {
        get
        {
            long now = _clock.ReadNanoseconds();
            var c = _channels[2];
            c.Settle(now);
            return c.Output(now);
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = offset < ControlPort ? ReadCounter(_channels[offset]) : (byte)0xFF; // the control register cannot be read
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = data[0];
        if (offset >= ControlPort)
        {
            ControlWord(v);
            return;
        }
        var c = _channels[offset];
        c.WriteByte(v, _clock);
        // Mode 0 drives OUT low on the first byte of a new count and keeps it low until terminal count.
        if (offset == 0 && c.EffectiveMode == 0) _irq0.SetLevel(false);
    }

    private byte ReadCounter(PitChannel c)
    {
        // A latched status is read before a latched count (Read-Back Command).
        if (c.LatchedStatus is { } status)
        {
            c.LatchedStatus = null;
            return status;
        }
        if (c.LatchedCount is { } latched)
        {
            bool high = c.Access == 2 || (c.Access == 3 && c.LatchedHighNext);
            if (c.Access == 3 && !c.LatchedHighNext) c.LatchedHighNext = true;
            else { c.LatchedCount = null; c.LatchedHighNext = false; } // the latch holds until fully read
            return (byte)(high ? latched >> 8 : latched);
        }
        long now = _clock.ReadNanoseconds();
        c.Settle(now);
        int value = c.Encode(c.Count(now));
        bool readHigh = c.Access == 2 || (c.Access == 3 && c.ReadHighNext);
        if (c.Access == 3) c.ReadHighNext = !c.ReadHighNext;
        return (byte)(readHigh ? value >> 8 : value);
    }

    private void ControlWord(byte v)
    {
        int select = v >> 6;
        if (select == ReadBackSelect)
        {
            ReadBack(v);
            return;
        }
        var c = _channels[select];
        int access = v >> 4 & 3;
        if (access == 0)
        {
            // Counter Latch Command: a second latch before the first is read is ignored.
            if (c.LatchedCount is null)
            {
                long now = _clock.ReadNanoseconds();
                c.Settle(now);
                c.LatchedCount = c.Encode(c.Count(now));
                c.LatchedHighNext = false;
            }
            return;
        }
        c.Program(access, v >> 1 & 7, (v & 1) != 0);
        // A control word resets the counter's logic and OUT; keep IRQ 0 low until the next edge.
        if (select == 0) _irq0.SetLevel(false);
    }

    private void ReadBack(byte v)
    {
        long now = _clock.ReadNanoseconds();
        for (int i = 0; i < 3; i++)
        {
            if ((v & 2 << i) == 0) continue;
            var c = _channels[i];
            c.Settle(now);
            // Like the latch command, a latch already waiting to be read is kept.
            if ((v & ReadBackNoCount) == 0 && c.LatchedCount is null)
            {
                c.LatchedCount = c.Encode(c.Count(now));
                c.LatchedHighNext = false;
            }
            if ((v & ReadBackNoStatus) == 0) c.LatchedStatus ??= c.Status(now);
        }
    }

    public Pit8254State SaveState() => new() { Channels = _channels.Select(c => c.Save()).ToArray() };

    public void RestoreState(Pit8254State state)
    {
        if (state.Channels.Length != 3) throw new ArgumentException("an 8254 has three counters", nameof(state));
        for (int i = 0; i < 3; i++) _channels[i].Restore(state.Channels[i]);
    }
}
