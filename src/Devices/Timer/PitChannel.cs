namespace VmReplay.Devices.Timer;

/// <summary>
/// One 8254 counter (Intel 8254 datasheet 231164). Its count is computed from engine-clock
/// time since the count was loaded, never by stepping, so reading it costs nothing and is
/// exact: ticks = elapsed_ns × 1,193,182 / 10⁹.
/// </summary>
internal sealed class PitChannel
{
    public const long FrequencyHz = 1_193_182;

    public int Mode;
    public int Access = 3; // 1 lobyte, 2 hibyte, 3 lobyte/hibyte
    public bool Bcd;
    public int Reload = 0x10000;
    public bool Loaded;
    public bool Gate = true;
    public long RunStartNs;
    public long TicksBeforeRun;
    public bool Running;
    public long EdgesDelivered;
    public int? LatchedCount;
    public int LatchedReads;
    public byte? LatchedStatus;
    public bool ReadHighNext;
    public bool WriteHighNext;
    public byte PendingLow;

    public static long TicksBetween(long fromNs, long toNs) => (long)((Int128)(toNs - fromNs) * FrequencyHz / 1_000_000_000);

    /// <summary>The first engine-clock instant at which <paramref name="ticks"/> ticks have elapsed since <paramref name="fromNs"/>.</summary>
    public static long TimeOfTick(long fromNs, long ticks) => fromNs + (long)(((Int128)ticks * 1_000_000_000 + FrequencyHz - 1) / FrequencyHz);

    public long Ticks(long now) => TicksBeforeRun + (Running ? TicksBetween(RunStartNs, now) : 0);

    /// <summary>The counting element's value now.</summary>
    public int Count(long now)
    {
        if (!Loaded) return 0;
        long t = Ticks(now);
        int n = Reload;
        long v = Mode switch
        {
            0 or 4 => (n - t) & 0xFFFF,                                  // counts through 0 and wraps
            2 => n - t % n,                                              // N..1, reload
            3 => n - 2 * (t % Math.Max(1, n / 2)),                       // by twos, each half period
            _ => Math.Max(0, n - t),
        };
        return (int)(v & 0xFFFF);
    }

    /// <summary>The OUT pin now.</summary>
    public bool Output(long now)
    {
        if (!Loaded) return Mode != 0;
        long t = Ticks(now);
        int n = Reload;
        return Mode switch
        {
            0 => t >= n,
            2 => t % n != n - 1,
            3 => t % n < (n + 1) / 2,
            4 => t != n,
            _ => true,
        };
    }

    /// <summary>Number of rising edges of OUT since the count was loaded (modes 0, 2, 3).</summary>
    public long Edges(long now)
    {
        if (!Loaded || !Running && TicksBeforeRun == 0) return 0;
        long t = Ticks(now);
        return Mode switch
        {
            0 => t >= Reload ? 1 : 0,
            2 or 3 => t / Reload,
            _ => 0,
        };
    }

    /// <summary>Engine time of the next rising edge not yet delivered, or null.</summary>
    public long? NextEdgeTime()
    {
        if (!Loaded || !Running) return null;
        long edgeTick = Mode switch
        {
            0 => EdgesDelivered == 0 ? Reload : -1,
            2 or 3 => (EdgesDelivered + 1) * Reload,
            _ => -1,
        };
        if (edgeTick < 0) return null;
        return TimeOfTick(RunStartNs, edgeTick - TicksBeforeRun);
    }

    public void Load(int count, long now)
    {
        int value = Bcd ? FromBcd(count) : count;
        Reload = value == 0 ? (Bcd ? 10000 : 0x10000) : value;
        Loaded = true;
        TicksBeforeRun = 0;
        EdgesDelivered = 0;
        Running = Gate;
        RunStartNs = now;
    }

    public void SetGate(bool high, long now)
    {
        if (high == Gate) return;
        if (high)
        {
            // Modes 1, 2, 3 and 5 restart the count on a rising gate; modes 0 and 4 resume.
            if (Mode is 0 or 4) { RunStartNs = now; }
            else { TicksBeforeRun = 0; EdgesDelivered = 0; RunStartNs = now; }
            Running = Loaded;
        }
        else if (Running)
        {
            TicksBeforeRun = Ticks(now);
            Running = false;
        }
        Gate = high;
    }

    public byte Status(long now) =>
        (byte)((Output(now) ? 0x80 : 0) | (Loaded ? 0 : 0x40) | (Access << 4) | (Mode << 1) | (Bcd ? 1 : 0));

    public int Encode(int value) => Bcd ? ToBcd(value % 10000) : value;

    private static int FromBcd(int v) => (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;

    private static int ToBcd(int v) => (v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12;
}
