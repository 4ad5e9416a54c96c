using VmReplay.Devices.Timer;

namespace VmReplay.Devices.Tests;

public class Pit8254Tests
{
    private const ulong Control = 3;

    private readonly FakeClock _clock = new();
    private readonly FakeIrq _irq = new();
    private readonly Pit8254 _pit;

    public Pit8254Tests() => _pit = new Pit8254(_clock, _irq);

    /// <summary>The first engine time at which <paramref name="ticks"/> input clocks have elapsed since time 0.</summary>
    private static long AtTick(long ticks) => (long)(((Int128)ticks * 1_000_000_000 + Pit8254.FrequencyHz - 1) / Pit8254.FrequencyHz);

    private void At(long ticks) => _clock.Now = AtTick(ticks);

    private static void Program(Pit8254 pit, int channel, int mode, int count, int access = 3, bool bcd = false)
    {
        pit.Out(Control, (byte)(channel << 6 | access << 4 | mode << 1 | (bcd ? 1 : 0)));
        WriteCount(pit, channel, count, access);
    }

    private void Program(int channel, int mode, int count, int access = 3, bool bcd = false) => Program(_pit, channel, mode, count, access, bcd);

    private static void WriteCount(Pit8254 pit, int channel, int count, int access = 3)
    {
        if (access != 2) pit.Out((ulong)channel, (byte)count);
        if (access != 1) pit.Out((ulong)channel, (byte)(count >> 8));
    }

    private static int ReadCount(Pit8254 pit, int channel)
    {
        int lo = pit.In((ulong)channel);
        int hi = pit.In((ulong)channel);
        return lo | hi << 8;
    }

    private int ReadCount(int channel) => ReadCount(_pit, channel);

    private byte Status(int channel)
    {
        _pit.Out(Control, (byte)(0xC0 | 0x20 | 2 << channel)); // read-back, status only
        return _pit.In((ulong)channel);
    }

    private bool Out(int channel) => (Status(channel) & 0x80) != 0;

    [Fact]
    public void InputClockIsThePcCrystalDividedBy12()
    {
        long fromCrystal = (long)Math.Round(14_318_180 / 12.0);
        Assert.Equal(1_193_182, fromCrystal);
        Assert.Equal(1_193_182, Pit8254.FrequencyHz);
    }

    [Fact]
    public void Mode2CountsDownFromNToOneAndReloads()
    {
        Program(0, 2, 1000);
        Assert.Equal(1000, ReadCount(0));
        At(100);
        Assert.Equal(900, ReadCount(0));
        At(999);
        Assert.Equal(1, ReadCount(0));
        At(1000);
        Assert.Equal(1000, ReadCount(0));
        At(2500);
        Assert.Equal(500, ReadCount(0));
    }

    [Fact]
    public void Mode2OutputIsLowForTheClockAtCountOne()
    {
        Program(0, 2, 1000);
        At(998);
        Assert.True(Out(0));
        At(999);
        Assert.False(Out(0));
        At(1000);
        Assert.True(Out(0));
    }

    [Fact]
    public void Mode2RaisesAnIrqPulseEveryPeriodAtTheExactDeadline()
    {
        Program(0, 2, 1193);
        long deadline = _pit.NextDeadlineNanoseconds!.Value;
        Assert.Equal(AtTick(1193), deadline);
        _pit.AdvanceTo(deadline - 1);
        Assert.Equal(0, _irq.RisingEdges);
        _pit.AdvanceTo(deadline);
        Assert.Equal(1, _irq.RisingEdges);
        Assert.False(_irq.Level); // a pulse
        Assert.Equal(AtTick(2 * 1193), _pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(deadline); // nothing new
        Assert.Equal(1, _irq.RisingEdges);
    }

    [Fact]
    public void OverduePeriodsCollapseIntoOnePulse()
    {
        Program(0, 2, 100);
        _pit.AdvanceTo(AtTick(1050));
        Assert.Equal(1, _irq.RisingEdges);
        Assert.Equal(AtTick(1100), _pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void Mode3EvenCountIsASquareWaveCountingByTwos()
    {
        Program(0, 3, 100);
        At(10);
        Assert.Equal(80, ReadCount(0));
        Assert.True(Out(0));
        At(49);
        Assert.True(Out(0));
        At(50);
        Assert.Equal(100, ReadCount(0)); // reloaded for the low half
        Assert.False(Out(0));
        At(60);
        Assert.Equal(80, ReadCount(0));
        At(100);
        Assert.True(Out(0));
        Assert.Equal(AtTick(100), _pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(AtTick(99));
        Assert.Equal(0, _irq.RisingEdges);
        _pit.AdvanceTo(AtTick(100));
        Assert.Equal(1, _irq.RisingEdges);
        Assert.Equal(AtTick(200), _pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void Mode3OddCountIsHighForOneClockMore()
    {
        _pit.SetChannel2Gate(true);
        Program(2, 3, 5);
        var counts = new List<int>();
        var outs = new List<bool>();
        for (int t = 0; t < 10; t++)
        {
            At(t);
            outs.Add(Out(2));
            counts.Add(ReadCount(2));
        }
        Assert.Equal([5, 4, 2, 5, 2, 5, 4, 2, 5, 2], counts);
        Assert.Equal([true, true, true, false, false, true, true, true, false, false], outs);
    }

    [Fact]
    public void Mode0RaisesOutputOnceAtTerminalCountAndKeepsCounting()
    {
        Program(0, 0, 50);
        Assert.False(_irq.Level);
        Assert.False(Out(0));
        Assert.Equal(AtTick(50), _pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(AtTick(49));
        Assert.False(_irq.Level);
        _pit.AdvanceTo(AtTick(50));
        Assert.True(_irq.Level); // OUT stays high: no pulse
        Assert.Null(_pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(AtTick(500));
        Assert.Equal(1, _irq.RisingEdges);
        At(60);
        Assert.True(Out(0));
        Assert.Equal(0x10000 - 10, ReadCount(0)); // the counter wraps and goes on
        WriteCount(_pit, 0, 20); // a new count restarts the one-shot and drops OUT
        Assert.False(_irq.Level);
        Assert.Equal(AtTick(60) + AtTick(20), _pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void Mode0FirstByteOfANewCountStopsCountingAndDropsOutput()
    {
        Program(2, 0, 1000);
        _pit.SetChannel2Gate(true); // mode 0 starts counting when the gate goes high
        At(100);
        Assert.Equal(900, ReadCount(2));
        _pit.Out(2, 0x10); // low byte of 0x0010
        At(300);
        Assert.Equal(900, ReadCount(2)); // held
        Assert.False(Out(2));
        _pit.Out(2, 0x00);
        _clock.Now = AtTick(300) + AtTick(15);
        Assert.False(Out(2));
        _clock.Now = AtTick(300) + AtTick(16);
        Assert.True(Out(2)); // 16 ticks after the second byte: terminal count
    }

    [Fact]
    public void Mode2NewCountTakesEffectAtTheEndOfTheCurrentPeriod()
    {
        Program(0, 2, 1000);
        At(300);
        WriteCount(_pit, 0, 500);
        Assert.Equal(0x40, Status(0) & 0x40); // null count: not yet in the counting element
        At(400);
        Assert.Equal(600, ReadCount(0));      // the current period runs on
        Assert.Equal(AtTick(1000), _pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(AtTick(1000));
        Assert.Equal(1, _irq.RisingEdges);
        Assert.Equal(AtTick(1000) + AtTick(500), _pit.NextDeadlineNanoseconds);
        _clock.Now = AtTick(1000) + AtTick(100);
        Assert.Equal(400, ReadCount(0));
        Assert.Equal(0, Status(0) & 0x40);
    }

    [Fact]
    public void ReloadReachedByAReadStillDeliversTheEdgeAtTheSwitch()
    {
        Program(0, 2, 1000);
        At(300);
        WriteCount(_pit, 0, 500);
        _clock.Now = AtTick(1000) + AtTick(200);
        Assert.Equal(300, ReadCount(0)); // settles the reload before any AdvanceTo
        Assert.Equal(AtTick(1000), _pit.NextDeadlineNanoseconds);
        _pit.AdvanceTo(_clock.Now);
        Assert.Equal(1, _irq.RisingEdges);
        Assert.Equal(AtTick(1000) + AtTick(500), _pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void CounterLatchFreezesTheValueUntilBothBytesAreRead()
    {
        Program(0, 2, 5000);
        At(1000);
        _pit.Out(Control, 0x00); // latch counter 0
        At(2000);
        _pit.Out(Control, 0x00); // ignored: the first latch has not been read
        At(3000);
        Assert.Equal(4000, ReadCount(0));
        Assert.Equal(2000, ReadCount(0)); // the latch is gone after both bytes
    }

    [Fact]
    public void LobyteHibyteReadsAlternate()
    {
        Program(1, 2, 0x1234);
        At(0x34);
        Assert.Equal(0x00, _pit.In(1)); // low byte of 0x1200
        At(0x35);
        Assert.Equal(0x11, _pit.In(1)); // high byte of 0x11FF, read live
        Assert.Equal(0xFF, _pit.In(1)); // low again
    }

    [Fact]
    public void LobyteOnlyAndHibyteOnlyAccess()
    {
        Program(1, 2, 0x80, access: 1);
        Assert.Equal(0x80, _pit.In(1));
        Assert.Equal(0x80, _pit.In(1)); // lobyte access never returns the high byte
        Program(1, 2, 0x4200, access: 2);
        Assert.Equal(0x42, _pit.In(1));
        Assert.Equal(0x42, _pit.In(1));
        At(0x100);
        Assert.Equal(0x41, _pit.In(1));
    }

    [Fact]
    public void ReadBackLatchesStatusThenCountForSeveralCounters()
    {
        Program(1, 2, 0x0800, bcd: false);
        Program(2, 3, 0x1234);
        _pit.Out(Control, 0b1100_1100); // read-back: count and status of counters 1 and 2
        At(0x100);
        Assert.Equal(0b1011_0110, _pit.In(2)); // OUT high, count loaded, lo/hi, mode 3, binary
        Assert.Equal(0x1234, ReadCount(2));    // latched at the command
        Assert.Equal(0b1011_0100, _pit.In(1)); // mode 2
        Assert.Equal(0x0800, ReadCount(1));
        Assert.Equal(0x0800 - 0x100, ReadCount(1)); // live again
    }

    [Fact]
    public void StatusShowsNullCountUntilACountIsWritten()
    {
        _pit.Out(Control, 0b1011_0000); // counter 2, lo/hi, mode 0
        Assert.Equal(0b0111_0000, Status(2)); // OUT low, null count
        _pit.Out(2, 0x10);
        Assert.Equal(0x40, Status(2) & 0x40); // half a count is still null
        _pit.Out(2, 0x00);
        Assert.Equal(0, Status(2) & 0x40);
        Assert.Equal(0x40, Status(0) & 0x40); // counter 0 was never programmed
    }

    [Fact]
    public void AControlWordCancelsLatchesAndStopsTheCounter()
    {
        Program(0, 2, 100);
        _pit.Out(Control, 0x00);
        _pit.Out(Control, 0x34); // counter 0, lo/hi, mode 2
        Assert.Null(_pit.NextDeadlineNanoseconds);
        WriteCount(_pit, 0, 300);
        Assert.Equal(300, ReadCount(0)); // the stale latch (100) was discarded
    }

    [Fact]
    public void CountZeroMeans65536()
    {
        Program(0, 2, 0);
        Assert.Equal(AtTick(65536), _pit.NextDeadlineNanoseconds); // ≈ 54.9 ms
        At(1);
        Assert.Equal(0xFFFF, ReadCount(0));
    }

    [Fact]
    public void BcdCountsInDecimalAndZeroMeansTenThousand()
    {
        Program(0, 2, 0x1000, bcd: true); // 1000 decimal
        At(1);
        Assert.Equal(0x0999, ReadCount(0));
        Assert.Equal(AtTick(1000), _pit.NextDeadlineNanoseconds);
        _clock.Now = 0;
        Program(0, 2, 0x0000, bcd: true);
        Assert.Equal(AtTick(10_000), _pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void BcdMode0WrapsThroughNineNineNineNine()
    {
        _pit.SetChannel2Gate(true);
        Program(2, 0, 0x0005, bcd: true);
        At(6);
        Assert.Equal(0x9999, ReadCount(2));
    }

    [Fact]
    public void ControlWordModesSixAndSevenActAsTwoAndThree()
    {
        _pit.Out(Control, 0b0011_1100); // counter 0, lo/hi, mode 6
        WriteCount(_pit, 0, 100);
        Assert.Equal(AtTick(100), _pit.NextDeadlineNanoseconds);
        Assert.Equal(6 << 1, Status(0) & 0x0E); // status shows the bits as written
    }

    [Fact]
    public void Mode4StrobesOnceAfterTerminalCount()
    {
        Program(0, 4, 50);
        Assert.True(Out(0));
        Assert.Equal(AtTick(51), _pit.NextDeadlineNanoseconds);
        At(50);
        Assert.False(Out(0));
        At(51);
        Assert.True(Out(0));
        _pit.AdvanceTo(AtTick(51));
        Assert.Equal(1, _irq.RisingEdges);
        Assert.False(_irq.Level);
        Assert.Null(_pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void ModesOneAndFiveWaitForAGateTriggerWhichCounterZeroNeverGets()
    {
        Program(0, 1, 50);
        Assert.Null(_pit.NextDeadlineNanoseconds);
        Assert.True(Out(0));
        Assert.Equal(0x40, Status(0) & 0x40); // the count waits in CR for a trigger
        Program(0, 5, 50);
        Assert.Null(_pit.NextDeadlineNanoseconds);
    }

    [Fact]
    public void TheClockIsReadOnlyWhenACountOrOutputIsNeeded()
    {
        Program(0, 2, 1000);
        int reads = _clock.Reads;
        _ = _pit.NextDeadlineNanoseconds;
        _pit.AdvanceTo(5_000_000);
        _pit.Out(Control, 0x74); // counter 1 control word
        _pit.SetChannel2Gate(false); // unchanged
        Assert.Equal(reads, _clock.Reads);
        _pit.In(0);
        Assert.Equal(reads + 1, _clock.Reads);
    }

    [Fact]
    public void TheControlRegisterReadsAllOnes()
    {
        Assert.Equal(0xFF, _pit.In(Control));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        Program(0, 2, 1193);
        Program(1, 3, 777, bcd: false);
        _pit.SetChannel2Gate(true);
        Program(2, 0, 500);
        At(3000);
        _pit.AdvanceTo(_clock.Now);
        WriteCount(_pit, 0, 2000);      // a reload pending at the period's end
        _pit.Out(Control, 0x40);        // counter 1 latched
        _pit.In(1);                     // half read
        _pit.Out(2, 0x33);              // counter 2 mid-write, counting inhibited

        int edgesA = _irq.RisingEdges;
        var irqB = new FakeIrq { Level = _irq.Level };
        var b = new Pit8254(_clock, irqB);
        b.RestoreState(StateJson.RoundTrip(_pit.SaveState()));
        Assert.Equal(_pit.NextDeadlineNanoseconds, b.NextDeadlineNanoseconds);
        Assert.Equal(_pit.In(1), b.In(1));
        b.Out(2, 0x01); _pit.Out(2, 0x01);
        foreach (long tick in new long[] { 3500, 3579, 4000, 5000, 7777, 12000 })
        {
            At(tick);
            _pit.AdvanceTo(_clock.Now);
            b.AdvanceTo(_clock.Now);
            Assert.Equal(_irq.RisingEdges - edgesA, irqB.RisingEdges);
            Assert.Equal(_irq.Level, irqB.Level);
            Assert.Equal(_pit.NextDeadlineNanoseconds, b.NextDeadlineNanoseconds);
            for (int c = 0; c < 3; c++) Assert.Equal(ReadCount(_pit, c), ReadCount(b, c));
            Assert.Equal(_pit.Channel2Output, b.Channel2Output);
        }
    }

    [Fact]
    public void DescribeNamesTheModeAccessAndCountOfEachCounter()
    {
        var state = new Pit8254State
        {
            Channels =
            [
                new PitChannelState { Mode = 2, Access = 3, CountRegister = 11932, HasCount = true, NullCount = false, ElementLoaded = true, ElementReload = 11932, Running = true },
                new PitChannelState(),
                new PitChannelState
                {
                    Mode = 7, Access = 1, Bcd = true, CountRegister = 1000, HasCount = true, NullCount = false, ElementLoaded = true, ElementReload = 1000,
                    Gate = false, LatchedCount = 0x0999,
                },
            ],
        };
        Assert.Equal(
            "ch0: mode 2 (rate generator), access lo/hi, count 11932 (0x2e9c, 10.000 ms, 100.00 Hz), gate 1, running\n" +
            "ch1: mode 0 (interrupt on terminal count), access lo/hi, no count written, gate 1, idle\n" +
            "ch2: mode 7 (= 3, square wave generator), access lo byte, BCD, count 1000 (0.838 ms, 1193.18 Hz), gate 0, stopped, latched count 0999",
            state.Describe());
    }
}
