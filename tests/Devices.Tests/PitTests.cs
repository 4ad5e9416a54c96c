using VmReplay.Devices.Timer;

namespace VmReplay.Devices.Tests;

public class PitTests
{
    private readonly FakeClock _clock = new();
    private readonly FakeIrq _irq = new();
    private readonly Pit8254 _pit;

    public PitTests() => _pit = new Pit8254(_clock, _irq);

    private const long NsPerTick = 838; // 1 / 1.193182 MHz, rounded

    private void Program(int channel, int mode, int count, int access = 3)
    {
        _pit.Out(3, (byte)(channel << 6 | access << 4 | mode << 1));
        if (access != 2) _pit.Out((ulong)channel, (byte)count);
        if (access != 1) _pit.Out((ulong)channel, (byte)(count >> 8));
    }

    private int ReadCount(int channel)
    {
        int lo = _pit.In((ulong)channel);
        int hi = _pit.In((ulong)channel);
        return lo | hi << 8;
    }

    [Fact]
    public void Mode2CountsDownAndReloads()
    {
        Program(0, 2, 1000);
        _clock.Now = 100 * 1_000_000_000L / Pit8254.FrequencyHz + 1; // 100 ticks
        Assert.Equal(900, ReadCount(0));
        _clock.Now = 1000L * 1_000_000_000 / Pit8254.FrequencyHz + 1000; // just past one period
        Assert.InRange(ReadCount(0), 995, 1000);
    }

    [Fact]
    public void Mode2RaisesAnIrqEdgeEveryPeriod()
    {
        Program(0, 2, 1193); // 1000 Hz
        long deadline = _pit.NextDeadlineNanoseconds!.Value;
        Assert.InRange(deadline, 999_000, 1_001_000);
        _pit.AdvanceTo(deadline - 1);
        Assert.Equal(0, _irq.RisingEdges);
        _pit.AdvanceTo(deadline);
        Assert.Equal(1, _irq.RisingEdges);
        long next = _pit.NextDeadlineNanoseconds!.Value;
        Assert.InRange(next - deadline, 999_000, 1_001_000);
        // Overdue periods collapse into one edge, as a late timer interrupt does.
        _pit.AdvanceTo(deadline + 10_000_000);
        Assert.Equal(2, _irq.RisingEdges);
    }

    [Fact]
    public void Mode3SquareWaveHasEdgesAtThePeriod()
    {
        Program(0, 3, 100);
        _pit.AdvanceTo(99 * NsPerTick);
        Assert.Equal(0, _irq.RisingEdges);
        _pit.AdvanceTo(101 * NsPerTick);
        Assert.Equal(1, _irq.RisingEdges);
    }

    [Fact]
    public void Mode0RaisesOutputOnceAtTerminalCount()
    {
        Program(0, 0, 50);
        Assert.False(_irq.Level);
        _pit.AdvanceTo(49 * NsPerTick);
        Assert.False(_irq.Level);
        _pit.AdvanceTo(51 * NsPerTick);
        Assert.True(_irq.Level);
        Assert.Null(_pit.NextDeadlineNanoseconds); // no further edge until reprogrammed
        _pit.AdvanceTo(200 * NsPerTick);
        Assert.Equal(1, _irq.RisingEdges);
    }

    [Fact]
    public void CounterLatchFreezesTheValueUntilRead()
    {
        Program(0, 2, 5000);
        _clock.Now = 1000 * NsPerTick;
        _pit.Out(3, 0x00); // latch counter 0
        _clock.Now = 3000 * NsPerTick;
        int latched = ReadCount(0);
        Assert.InRange(latched, 3999, 4001);
        Assert.InRange(ReadCount(0), 1999, 2001); // the latch is gone after both bytes
    }

    [Fact]
    public void ReadBackLatchesStatusAndCount()
    {
        Program(2, 3, 0x1234);
        _pit.Out(3, 0b1100_1000); // read-back: latch count and status of counter 2
        byte status = _pit.In(2);
        Assert.Equal(0b11 << 4 | 3 << 1, status & 0x3F); // lo/hi access, mode 3, binary
        Assert.Equal(0, status & 0x40);                   // count loaded (null count clear)
        Assert.Equal(0x1234, ReadCount(2));
    }

    [Fact]
    public void LobyteOnlyAndHibyteOnlyAccess()
    {
        Program(1, 2, 0x80, access: 1);
        Assert.Equal(0x80, _pit.In(1));
        Assert.Equal(0x80, _pit.In(1)); // lobyte access never returns the high byte
        Program(1, 2, 0x4200, access: 2);
        Assert.Equal(0x42, _pit.In(1));
    }

    [Fact]
    public void CountZeroMeans65536()
    {
        Program(0, 2, 0);
        long deadline = _pit.NextDeadlineNanoseconds!.Value;
        Assert.InRange(deadline, 54_900_000, 55_000_000); // 65536 / 1.193182 MHz ≈ 54.9 ms
    }

    [Fact]
    public void BcdCounting()
    {
        _pit.Out(3, 0b0011_0101); // counter 0, lo/hi, mode 2, BCD
        _pit.Out(0, 0x00); _pit.Out(0, 0x10); // 1000 in BCD
        _clock.Now = 1 + 1 * 1_000_000_000L / Pit8254.FrequencyHz;
        Assert.Equal(0x0999, ReadCount(0));
    }

    [Fact]
    public void Channel2GateAndOutputThroughPort61()
    {
        var port61 = new SystemControlPortB(_pit);
        Program(2, 0, 10);
        Assert.Equal(0, port61.In(0) & 0x20);  // gate low: not counting, OUT low (mode 0)
        port61.Out(0, 0x01);                    // gate high
        _clock.Now += 20 * NsPerTick;
        Assert.Equal(0x20, port61.In(0) & 0x20);      // terminal count reached: OUT high
        Assert.Equal(1, port61.In(0) & 1);
        byte first = port61.In(0), second = port61.In(0);
        Assert.NotEqual(first & 0x10, second & 0x10); // refresh toggles on every read
    }

    [Fact]
    public void TheClockIsReadOnlyWhenNeeded()
    {
        Program(0, 2, 1000);
        int reads = _clock.Reads;
        _ = _pit.NextDeadlineNanoseconds;
        _pit.AdvanceTo(5_000_000);
        Assert.Equal(reads, _clock.Reads);
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        Program(0, 2, 1193);
        Program(2, 3, 500);
        _clock.Now = 3_500_000;
        _pit.AdvanceTo(_clock.Now);
        _pit.Out(3, 0x00); // a latch in flight
        var irqB = new FakeIrq();
        var b = new Pit8254(_clock, irqB);
        b.RestoreState(StateJson.RoundTrip(_pit.SaveState()));
        Assert.Equal(_pit.NextDeadlineNanoseconds, b.NextDeadlineNanoseconds);
        Assert.Equal(ReadCount(0), b.In(0) | b.In(0) << 8);
        _clock.Now = 9_000_000;
        _pit.AdvanceTo(_clock.Now);
        b.AdvanceTo(_clock.Now);
        Assert.Equal(_irq.RisingEdges > 0, irqB.RisingEdges > 0);
        Assert.Equal(ReadCount(2), b.In(2) | b.In(2) << 8);
    }
}
