using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Timer;

/// <summary>
/// One 8254 counter (Intel 8254 datasheet, order 231164, "Mode Definitions"). The counting
/// element is never stepped: its value and OUT are functions of the engine-clock time since it
/// was loaded, ticks = elapsed_ns × 1,193,182 / 10⁹, so a read costs nothing and is exact.
/// Times are in engine-clock nanoseconds, counts are decoded (1..65536, or 1..10000 in BCD).
/// </summary>
/// <remarks>
/// The datasheet's one-CLK delay between writing a count and the count reaching the counting
/// element is not modelled: the element starts at the write. Before its first load the
/// element's contents are undefined on the chip; here they read 0.
/// </remarks>
internal sealed class PitChannel
{
    /// <summary>The 8254's CLK input on a PC: the 14.31818 MHz system crystal divided by 12.</summary>
    public const long FrequencyHz = 1_193_182;

    // Programming (control word and count register).
    public int Mode;                 // M2..M0 as written; 6 and 7 act as 2 and 3
    public int Access = 3;           // RW1..RW0: 1 lobyte, 2 hibyte, 3 lobyte then hibyte
    public bool Bcd;
    public int CountRegister;        // CR, decoded
    public bool HasCount;            // a whole count was written since the control word
    public bool NullCount = true;    // CR written but not yet in the counting element (status bit 6)

    // The counting element (CE) and the time base it counts against.
    public bool ElementLoaded;
    public int ElementReload;        // the count the CE was loaded with
    public bool Gate = true;
    public bool Running;             // the CE decrements (loaded, gate allows, not inhibited)
    public long RunStartNs;          // when the current run began
    public long TicksBeforeRun;      // CE ticks counted in earlier runs (modes 0 and 4 pause on a low gate)
    public long EdgesDelivered;      // rising edges of OUT already signalled; -1: the one at tick 0 is due
    public bool ReloadPending;       // modes 2, 3: CR replaces the count at SwitchTick, the period's end
    public long SwitchTick;

    // The CPU interface: latches and the read/write byte flip-flops.
    public int? LatchedCount;
    public bool LatchedHighNext;
    public byte? LatchedStatus;
    public bool ReadHighNext;
    public bool WriteHighNext;
    public byte PendingLow;

    /// <summary>The mode in effect: 6 and 7 are "don't care" aliases of 2 and 3 (Control Word Format).</summary>
    public int EffectiveMode => EffectiveModeOf(Mode);

    /// <summary>The mode a control word's mode field puts in effect (6 and 7 are 2 and 3).</summary>
    internal static int EffectiveModeOf(int mode) => mode > 5 ? mode - 4 : mode;

    private int Modulus => Bcd ? 10_000 : 0x10000;

    // Mode 0: writing the first byte of a two-byte count stops counting and drives OUT low.
    private bool Inhibited => EffectiveMode == 0 && WriteHighNext;

    public static long TicksBetween(long fromNs, long toNs) => (long)((Int128)(toNs - fromNs) * FrequencyHz / 1_000_000_000);

    /// <summary>The first engine-clock instant at which <paramref name="ticks"/> ticks have elapsed since <paramref name="fromNs"/>.</summary>
    public static long TimeOfTick(long fromNs, long ticks) =>
        ticks <= 0 ? fromNs : fromNs + (long)(((Int128)ticks * 1_000_000_000 + FrequencyHz - 1) / FrequencyHz);

    private long Ticks(long now) => TicksBeforeRun + (Running ? TicksBetween(RunStartNs, now) : 0);

    /// <summary>The control word for this counter (not a latch command): resets the control logic.</summary>
    public void Program(int access, int mode, bool bcd)
    {
        Access = access;
        Mode = mode;
        Bcd = bcd;
        HasCount = false;
        NullCount = true;
        ElementLoaded = Running = ReloadPending = false;
        TicksBeforeRun = EdgesDelivered = 0;
        ReadHighNext = WriteHighNext = LatchedHighNext = false;
        LatchedCount = null;
        LatchedStatus = null;
    }

    /// <summary>A byte written to the counter's port, through the write flip-flop.</summary>
    public void WriteByte(byte v, IEngineClock clock)
    {
        switch (Access)
        {
            case 1:
                WriteCount(v, clock.ReadNanoseconds());
                break;
            case 2:
                WriteCount(v << 8, clock.ReadNanoseconds());
                break;
            default:
                if (!WriteHighNext)
                {
                    PendingLow = v;
                    if (EffectiveMode == 0 && Running)
                    {
                        long now = clock.ReadNanoseconds();
                        TicksBeforeRun = Ticks(now);
                        Running = false;
                    }
                    WriteHighNext = true;
                }
                else
                {
                    WriteHighNext = false;
                    WriteCount(PendingLow | v << 8, clock.ReadNanoseconds());
                }
                break;
        }
    }

    private void WriteCount(int raw, long now)
    {
        Settle(now);
        int value = Bcd ? FromBcd(raw) : raw;
        CountRegister = value == 0 ? Modulus : value; // 0 is the largest count: 2^16, or 10^4 in BCD
        HasCount = true;
        switch (EffectiveMode)
        {
            case 1 or 5:
                NullCount = true; // the CE takes the new count at the next gate trigger
                break;
            case 2 or 3 when ElementLoaded:
                // A new count does not disturb the current period; it is loaded at its end (or by a trigger).
                NullCount = true;
                if (Running)
                {
                    ReloadPending = true;
                    long period = ElementReload;
                    SwitchTick = (Ticks(now) / period + 1) * period;
                }
                break;
            default:
                LoadElement(now);
                break;
        }
    }

    private void LoadElement(long now)
    {
        ElementReload = CountRegister;
        ElementLoaded = true;
        NullCount = false;
        ReloadPending = false;
        TicksBeforeRun = 0;
        EdgesDelivered = 0;
        RunStartNs = now;
        Running = Gate;
    }

    /// <summary>Brings a pending mode 2/3 reload into effect if its period has ended by <paramref name="now"/>.</summary>
    public void Settle(long now)
    {
        if (!ReloadPending || !Running || Ticks(now) < SwitchTick) return;
        RunStartNs = TimeOfTick(RunStartNs, SwitchTick - TicksBeforeRun);
        TicksBeforeRun = 0;
        ElementReload = CountRegister;
        ReloadPending = false;
        NullCount = false;
        // The period that ended at the switch ended with a rising edge; AdvanceTo has not seen it
        // (it settles before counting edges), so it is edge 0 of the new run.
        EdgesDelivered = -1;
    }

    /// <summary>The GATE input changed.</summary>
    public void SetGate(bool high, long now)
    {
        if (high == Gate) return;
        Settle(now);
        Gate = high;
        int mode = EffectiveMode;
        if (high)
        {
            if (mode is 0 or 4)
            {
                // Counting resumes where it stopped.
                if (ElementLoaded && !Inhibited && !Running)
                {
                    RunStartNs = now;
                    Running = true;
                }
            }
            else if (HasCount)
            {
                LoadElement(now); // modes 1 and 5: trigger; modes 2 and 3: reload and restart
            }
        }
        else if (mode is not (1 or 5) && Running)
        {
            // Modes 0, 2, 3 and 4 stop counting; 1 and 5 only see the gate's rising edge.
            TicksBeforeRun = Ticks(now);
            Running = false;
        }
    }

    /// <summary>The counting element's value (decoded).</summary>
    public int Count(long now)
    {
        if (!ElementLoaded) return 0;
        long t = Ticks(now);
        long n = ElementReload;
        long v = EffectiveMode switch
        {
            2 => n - t % n,                  // N .. 1, then reload
            3 => SquareWaveCount(t, n),
            _ => n - t,                      // 0, 1, 4, 5: through zero and on, wrapping
        };
        return (int)((v % Modulus + Modulus) % Modulus);
    }

    // Mode 3: an even count is decremented by two each CLK and reloaded at each half period; an
    // odd count is decremented by one on its first CLK (high half) or by three (low half), then by
    // two, so OUT is high for (N + 1) / 2 CLKs and low for (N - 1) / 2.
    private static long SquareWaveCount(long t, long n)
    {
        long p = t % n;
        long high = (n + 1) / 2;
        if (n % 2 == 0) return n - 2 * (p < high ? p : p - high);
        if (p < high) return p == 0 ? n : n + 1 - 2 * p;
        long k = p - high;
        return k == 0 ? n : n - 1 - 2 * k;
    }

    /// <summary>The OUT pin.</summary>
    public bool Output(long now)
    {
        int mode = EffectiveMode;
        if (mode == 0) return ElementLoaded && !Inhibited && Ticks(now) >= ElementReload; // low until terminal count
        if (!ElementLoaded) return true; // every other mode idles high
        long t = Ticks(now);
        long n = ElementReload;
        return mode switch
        {
            1 => t >= n,                              // low from the trigger to terminal count
            2 => !Gate || t % n != n - 1,             // low for the CLK at count 1; a low gate forces high
            3 => !Gate || t % n < (n + 1) / 2,
            _ => t != n,                              // 4, 5: a one-CLK strobe at terminal count
        };
    }

    /// <summary>Rising edges of OUT since the counting element was loaded.</summary>
    public long Edges(long now)
    {
        if (!ElementLoaded || Inhibited) return 0;
        long t = Ticks(now);
        long n = ElementReload;
        return EffectiveMode switch
        {
            0 or 1 => t >= n ? 1 : 0,
            2 or 3 => t / n,
            _ => t >= n + 1 ? 1 : 0,
        };
    }

    /// <summary>Engine time of the first rising edge of OUT not yet delivered, or null if none will come.</summary>
    public long? NextEdgeTime()
    {
        if (!ElementLoaded || !Running) return null;
        long n = ElementReload;
        long tick = EffectiveMode switch
        {
            0 or 1 => EdgesDelivered > 0 ? -1 : n,
            2 or 3 => (EdgesDelivered + 1) * n,
            _ => EdgesDelivered > 0 ? -1 : n + 1,
        };
        if (tick < 0) return null;
        return TimeOfTick(RunStartNs, tick - TicksBeforeRun);
    }

    /// <summary>The read-back status byte: OUT, null count, RW, mode, BCD (Read-Back Command, status format).</summary>
    public byte Status(long now) =>
        (byte)((Output(now) ? 0x80 : 0) | (NullCount ? 0x40 : 0) | Access << 4 | Mode << 1 | (Bcd ? 1 : 0));

    /// <summary>A count as the chip presents it: BCD digits in BCD mode.</summary>
    public int Encode(int value) => Bcd ? ToBcd(value % 10_000) : value;

    private static int FromBcd(int v) => (v & 0xF) + (v >> 4 & 0xF) * 10 + (v >> 8 & 0xF) * 100 + (v >> 12 & 0xF) * 1000;

    private static int ToBcd(int v) => v % 10 | v / 10 % 10 << 4 | v / 100 % 10 << 8 | v / 1000 % 10 << 12;

    public PitChannelState Save() => new()
    {
        Mode = Mode, Access = Access, Bcd = Bcd, CountRegister = CountRegister, HasCount = HasCount, NullCount = NullCount,
        ElementLoaded = ElementLoaded, ElementReload = ElementReload, Gate = Gate, Running = Running, RunStartNs = RunStartNs,
        TicksBeforeRun = TicksBeforeRun, EdgesDelivered = EdgesDelivered, ReloadPending = ReloadPending, SwitchTick = SwitchTick,
        LatchedCount = LatchedCount, LatchedHighNext = LatchedHighNext, LatchedStatus = LatchedStatus,
        ReadHighNext = ReadHighNext, WriteHighNext = WriteHighNext, PendingLow = PendingLow,
    };

    public void Restore(PitChannelState s)
    {
        if (s.Mode is < 0 or > 7 || s.Access is < 1 or > 3 || (s.ElementLoaded && s.ElementReload <= 0))
            throw new ArgumentException("not an 8254 counter state", nameof(s));
        Mode = s.Mode; Access = s.Access; Bcd = s.Bcd; CountRegister = s.CountRegister; HasCount = s.HasCount; NullCount = s.NullCount;
        ElementLoaded = s.ElementLoaded; ElementReload = s.ElementReload; Gate = s.Gate; Running = s.Running; RunStartNs = s.RunStartNs;
        TicksBeforeRun = s.TicksBeforeRun; EdgesDelivered = s.EdgesDelivered; ReloadPending = s.ReloadPending; SwitchTick = s.SwitchTick;
        LatchedCount = s.LatchedCount; LatchedHighNext = s.LatchedHighNext; LatchedStatus = s.LatchedStatus;
        ReadHighNext = s.ReadHighNext; WriteHighNext = s.WriteHighNext; PendingLow = s.PendingLow;
    }
}
