using VmReplay.Devices.Rtc;

namespace VmReplay.Devices.Tests;

public class CmosRtcTests
{
    private const long Second = 1_000_000_000;
    private const byte RegA = 0x0A, RegB = 0x0B, RegC = 0x0C, RegD = 0x0D;

    private readonly FakeClock _clock = new();
    private readonly FakeIrq _irq = new();

    // A Monday, two seconds before 14:00.
    private static readonly DateTime Base = new(2026, 11, 23, 13, 59, 58);

    private CmosRtc Rtc(ulong memory = 64UL << 20, IIrqLine? irq = null, DateTime? baseTime = null) =>
        new(_clock, baseTime ?? Base, memory, irq);

    private static byte Reg(CmosRtc rtc, byte index)
    {
        rtc.Out(0, index);
        return rtc.In(1);
    }

    private static void Set(CmosRtc rtc, byte index, byte value)
    {
        rtc.Out(0, index);
        rtc.Out(1, value);
    }

    [Fact]
    public void BcdTimeAdvancesWithTheEngineClock()
    {
        var rtc = Rtc();
        Assert.Equal(0x58, Reg(rtc, 0x00));
        Assert.Equal(0x59, Reg(rtc, 0x02));
        Assert.Equal(0x13, Reg(rtc, 0x04));
        Assert.Equal(0x02, Reg(rtc, 0x06)); // Monday (Sunday is 1)
        Assert.Equal(0x23, Reg(rtc, 0x07));
        Assert.Equal(0x11, Reg(rtc, 0x08));
        Assert.Equal(0x26, Reg(rtc, 0x09));
        Assert.Equal(0x20, Reg(rtc, 0x32));
        _clock.Now = 3 * Second;
        Assert.Equal(0x01, Reg(rtc, 0x00));
        Assert.Equal(0x00, Reg(rtc, 0x02));
        Assert.Equal(0x14, Reg(rtc, 0x04));
        _clock.Now = (10 * 3600 + 2) * Second; // past midnight
        Assert.Equal(0x24, Reg(rtc, 0x07));
        Assert.Equal(0x03, Reg(rtc, 0x06));
    }

    [Fact]
    public void BinaryAnd12HourModes()
    {
        var rtc = Rtc();
        Set(rtc, RegB, 0x04); // binary, 12-hour
        Assert.Equal(58, Reg(rtc, 0x00));
        Assert.Equal(0x80 | 1, Reg(rtc, 0x04)); // 1 PM
        Assert.Equal(26, Reg(rtc, 0x09));
        Set(rtc, RegB, 0x00); // BCD, 12-hour
        Assert.Equal(0x81, Reg(rtc, 0x04));
    }

    [Theory]
    [InlineData(0, 0x12)]   // midnight is 12 AM
    [InlineData(11, 0x11)]
    [InlineData(12, 0x92)]  // noon is 12 PM
    [InlineData(23, 0x91)]
    public void TwelveHourBcdHours(int hour, byte expected)
    {
        var rtc = Rtc(baseTime: new DateTime(2026, 1, 1, hour, 30, 0));
        Set(rtc, RegB, 0x00);
        Assert.Equal(expected, Reg(rtc, 0x04));
    }

    [Fact]
    public void SetFreezesTimeAndTheWrittenTimeRunsOnFromItsCommit()
    {
        var rtc = Rtc();
        _clock.Now = Second / 2; // 13:59:58.5
        Set(rtc, RegB, 0x82); // SET, BCD, 24h
        Set(rtc, 0x04, 0x08);
        Set(rtc, 0x02, 0x30);
        Set(rtc, 0x00, 0x00);
        _clock.Now = 5 * Second;
        Assert.Equal(0x00, Reg(rtc, 0x00)); // frozen
        Assert.Equal(0, Reg(rtc, RegA) & 0x80); // no update in progress while SET
        Set(rtc, RegB, 0x02);
        Assert.Equal(0x00, Reg(rtc, 0x00));
        Assert.Equal(0x30, Reg(rtc, 0x02));
        _clock.Now = 6 * Second - 1; // the second's phase runs on: 08:30:00.999...
        Assert.Equal(0x00, Reg(rtc, 0x00));
        _clock.Now = 6 * Second + Second / 2;
        Assert.Equal(0x01, Reg(rtc, 0x00));
        Assert.Equal(0x08, Reg(rtc, 0x04));
    }

    [Fact]
    public void DateFieldsAreIndependentWhileSet()
    {
        var rtc = Rtc();
        Set(rtc, RegB, 0x86); // SET, binary, 24h
        Set(rtc, 0x07, 31);    // day 31 while the month is still November
        Set(rtc, 0x08, 12);
        Set(rtc, 0x09, 99);
        Set(rtc, 0x32, 20);
        Set(rtc, RegB, 0x06);
        Assert.Equal(31, Reg(rtc, 0x07));
        Assert.Equal(12, Reg(rtc, 0x08));
        Assert.Equal(99, Reg(rtc, 0x09));
        Assert.Equal(20, Reg(rtc, 0x32));
    }

    [Fact]
    public void WritesWithoutSetTakeEffectAtOnce()
    {
        var rtc = Rtc();
        Set(rtc, 0x02, 0x15);
        Assert.Equal(0x15, Reg(rtc, 0x02));
        Assert.Equal(0x13, Reg(rtc, 0x04));
        Assert.Equal(0x58, Reg(rtc, 0x00));
    }

    [Fact]
    public void DayOfWeekIsAFreeRunningCounterTheGuestSets()
    {
        var rtc = Rtc();
        Set(rtc, 0x06, 0x07); // the guest says Saturday
        Assert.Equal(0x07, Reg(rtc, 0x06));
        _clock.Now = (10 * 3600 + 2) * Second; // past midnight
        Assert.Equal(0x01, Reg(rtc, 0x06));   // wraps to Sunday
    }

    [Fact]
    public void UpdateInProgressIsSetInTheLast244MicrosecondsOfEachSecond()
    {
        var rtc = Rtc();
        _clock.Now = Second / 2;
        Assert.Equal(0, Reg(rtc, RegA) & 0x80);
        _clock.Now = Second - 244_000 - 100;
        Assert.Equal(0, Reg(rtc, RegA) & 0x80);
        _clock.Now = Second - 244_000;
        Assert.Equal(0x80, Reg(rtc, RegA) & 0x80);
        _clock.Now = Second - 1;
        Assert.Equal(0x80, Reg(rtc, RegA) & 0x80);
        _clock.Now = Second;
        Assert.Equal(0, Reg(rtc, RegA) & 0x80);
    }

    [Fact]
    public void RegisterAKeepsItsRateButNotUip()
    {
        var rtc = Rtc();
        Assert.Equal(0x26, Reg(rtc, RegA));
        _clock.Now = Second / 2;
        Set(rtc, RegA, 0xA3);
        Assert.Equal(0x23, Reg(rtc, RegA));
    }

    [Fact]
    public void RegisterDIsValidAndReadOnly()
    {
        var rtc = Rtc();
        Assert.Equal(0x80, Reg(rtc, RegD));
        Set(rtc, RegD, 0x00);
        Assert.Equal(0x80, Reg(rtc, RegD));
    }

    [Fact]
    public void RegisterCFlagsFollowTheClockAndClearOnRead()
    {
        var rtc = Rtc();
        Assert.Equal(0x00, Reg(rtc, RegC));
        _clock.Now = Second / 10;
        Assert.Equal(0x40, Reg(rtc, RegC)); // periodic flag (1024 Hz), interrupts disabled: no IRQF
        Assert.Equal(0x00, Reg(rtc, RegC));
        _clock.Now = 2 * Second;
        Assert.Equal(0x50, Reg(rtc, RegC)); // and an update ended
        Assert.Equal(0x00, Reg(rtc, RegC));
    }

    [Fact]
    public void AlarmFlagMatchesWithDontCareBytes()
    {
        var rtc = Rtc();
        Set(rtc, RegA, 0x20);  // no periodic flag
        Set(rtc, 0x05, 0xFF);  // any hour
        Set(rtc, 0x03, 0x00);  // minute 00
        Set(rtc, 0x01, 0x05);  // second 05
        _clock.Now = 5 * Second; // 14:00:03
        Assert.Equal(0x10, Reg(rtc, RegC));
        _clock.Now = 7 * Second; // 14:00:05
        Assert.Equal(0x30, Reg(rtc, RegC));
        _clock.Now = 70 * Second; // 14:01:08
        Assert.Equal(0x10, Reg(rtc, RegC));
    }

    [Fact]
    public void UpdateInterruptRaisesIrq8UntilRegisterCIsRead()
    {
        var rtc = Rtc(irq: _irq);
        Assert.Null(rtc.NextDeadlineNanoseconds);
        Set(rtc, RegB, 0x12); // UIE, 24h, BCD
        Assert.Equal(Second, rtc.NextDeadlineNanoseconds); // 13:59:59
        rtc.AdvanceTo(Second - 1);
        Assert.False(_irq.Level);
        rtc.AdvanceTo(Second);
        Assert.True(_irq.Level);
        Assert.Null(rtc.NextDeadlineNanoseconds); // IRQF stays until C is read
        _clock.Now = Second + 5;
        Assert.Equal(0xD0, Reg(rtc, RegC)); // IRQF, UF, and PF (set at 1024 Hz though not enabled)
        Assert.False(_irq.Level);
        Assert.Equal(2 * Second, rtc.NextDeadlineNanoseconds);
    }

    [Fact]
    public void SetClearsUpdateInterruptEnable()
    {
        var rtc = Rtc(irq: _irq);
        Set(rtc, RegB, 0x92);
        Assert.Equal(0x82, Reg(rtc, RegB));
        Assert.Null(rtc.NextDeadlineNanoseconds);
    }

    [Fact]
    public void PeriodicInterruptAtTheProgrammedRate()
    {
        var rtc = Rtc(irq: _irq);
        Set(rtc, RegA, 0x2F); // 2 Hz
        Set(rtc, RegB, 0x42); // PIE
        Assert.Equal(Second / 2, rtc.NextDeadlineNanoseconds);
        rtc.AdvanceTo(Second / 2);
        Assert.True(_irq.Level);
        _clock.Now = Second / 2;
        Assert.Equal(0xC0, Reg(rtc, RegC)); // IRQF, PF
        Assert.Equal(Second, rtc.NextDeadlineNanoseconds);
        Set(rtc, RegA, 0x26); // 1024 Hz: 976,562.5 ns, rounded up
        Assert.Equal(Second / 2 + 976_563, rtc.NextDeadlineNanoseconds);
    }

    [Fact]
    public void EnablingAnInterruptWhoseFlagIsSetRaisesItAtOnce()
    {
        var rtc = Rtc(irq: _irq);
        _clock.Now = 3 * Second;
        Set(rtc, RegB, 0x12); // UF is already set (updates happened)
        Assert.True(_irq.Level);
    }

    [Fact]
    public void AlarmInterruptDeadline()
    {
        var rtc = Rtc(irq: _irq);
        Set(rtc, 0x05, 0x14);
        Set(rtc, 0x03, 0x00);
        Set(rtc, 0x01, 0x30);  // 14:00:30
        Set(rtc, RegB, 0x22);  // AIE
        Assert.Equal(32 * Second, rtc.NextDeadlineNanoseconds);
        rtc.AdvanceTo(32 * Second);
        Assert.True(_irq.Level);
        _clock.Now = 32 * Second;
        Assert.Equal(0xB0, Reg(rtc, RegC) & 0xB0); // IRQF, AF, UF
        Assert.Equal((32 + 86_400) * Second, rtc.NextDeadlineNanoseconds); // tomorrow
        Set(rtc, 0x01, 0x60); // not a BCD second: never matches
        Assert.Null(rtc.NextDeadlineNanoseconds);
    }

    [Fact]
    public void WithoutAnIrqLineThereIsNoDeadline()
    {
        var rtc = Rtc();
        Set(rtc, RegB, 0x72);
        Assert.Null(rtc.NextDeadlineNanoseconds);
    }

    [Fact]
    public void NmiBitIsNotPartOfTheIndex()
    {
        var rtc = Rtc();
        rtc.Out(0, 0x80 | 0x15);
        Assert.True(rtc.NmiDisabled);
        Assert.Equal(0x80, rtc.In(1)); // base memory low byte: 640 = 0x280
        Assert.Equal(0xFF, rtc.In(0)); // the index port is write-only
        rtc.Out(0, 0x16);
        Assert.False(rtc.NmiDisabled);
        Assert.Equal(0x02, rtc.In(1));
    }

    [Fact]
    public void RamBytesKeepWhatIsWritten()
    {
        var rtc = Rtc();
        Set(rtc, 0x7F, 0x5A);
        Set(rtc, 0x40, 0xA5);
        Assert.Equal(0x5A, Reg(rtc, 0x7F));
        Assert.Equal(0xA5, Reg(rtc, 0x40));
    }

    [Fact]
    public void MemorySizeBytesFor64MiB()
    {
        var rtc = Rtc(64UL << 20);
        Assert.Equal(640, Reg(rtc, 0x15) | Reg(rtc, 0x16) << 8);
        Assert.Equal(63 * 1024, Reg(rtc, 0x17) | Reg(rtc, 0x18) << 8);
        Assert.Equal(63 * 1024, Reg(rtc, 0x30) | Reg(rtc, 0x31) << 8);
        Assert.Equal(48 * 16, Reg(rtc, 0x34) | Reg(rtc, 0x35) << 8); // above 16 MiB in 64 KiB
        Assert.Equal(0, Reg(rtc, 0x5B) | Reg(rtc, 0x5C) << 8 | Reg(rtc, 0x5D) << 16);
    }

    [Fact]
    public void MemorySizeBytesFor4AndAHalfGiB()
    {
        var rtc = Rtc(4608UL << 20);
        Assert.Equal(0xFFFF, Reg(rtc, 0x17) | Reg(rtc, 0x18) << 8);            // capped
        Assert.Equal(0xFFFF, Reg(rtc, 0x30) | Reg(rtc, 0x31) << 8);
        Assert.Equal((3072 - 16) * 16, Reg(rtc, 0x34) | Reg(rtc, 0x35) << 8);  // 16 MiB up to the 3 GiB hole
        Assert.Equal(1536 * 16, Reg(rtc, 0x5B) | Reg(rtc, 0x5C) << 8 | Reg(rtc, 0x5D) << 16); // 1.5 GiB above 4 GiB
    }

    [Fact]
    public void MemorySizeBytesBelow16MiBAndTheChecksum()
    {
        var rtc = Rtc(8UL << 20);
        Assert.Equal(7 * 1024, Reg(rtc, 0x17) | Reg(rtc, 0x18) << 8);
        Assert.Equal(0, Reg(rtc, 0x34) | Reg(rtc, 0x35) << 8);
        int sum = 0;
        for (byte i = 0x10; i <= 0x2D; i++) sum += Reg(rtc, i);
        Assert.Equal(sum, Reg(rtc, 0x2E) << 8 | Reg(rtc, 0x2F));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        var a = Rtc(irq: _irq);
        _clock.Now = Second / 3;
        Set(a, RegB, 0x86);     // SET, binary
        Set(a, 0x04, 7);
        Set(a, 0x06, 5);
        Set(a, RegB, 0x56);     // PIE, UIE, binary, 24h
        Set(a, 0x40, 0x77);
        Set(a, 0x01, 0xC0);
        a.Out(0, 0x80 | 0x02);

        var irqB = new FakeIrq();
        var b = Rtc(irq: irqB, baseTime: new DateTime(1999, 1, 1)); // the state carries the base time
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        Assert.Equal(a.NextDeadlineNanoseconds, b.NextDeadlineNanoseconds);
        Assert.Equal(a.In(1), b.In(1));
        Assert.Equal(a.NmiDisabled, b.NmiDisabled);
        foreach (long t in new[] { Second / 2, Second, 5 * Second / 2, 3600 * Second, 90_000 * Second })
        {
            _clock.Now = t;
            a.AdvanceTo(t);
            b.AdvanceTo(t);
            Assert.Equal(_irq.Level, irqB.Level);
            Assert.Equal(a.NextDeadlineNanoseconds, b.NextDeadlineNanoseconds);
            foreach (byte r in new byte[] { 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, RegA, RegB, RegC, 0x40, 0x17 })
                Assert.Equal(Reg(a, r), Reg(b, r));
        }
    }

    [Fact]
    public void DescribeDecodesRegistersAToDAndDumpsTheCmos()
    {
        var ram = new byte[128];
        ram[0x0A] = 0x26; ram[0x0B] = 0x42; ram[0x0C] = 0x40; ram[0x0D] = 0x80; ram[0x7F] = 0xAB;
        var state = new CmosRtcState { Index = 0x0C, NmiDisabled = true, Ram = ram, BaseTicks = new DateTime(2026, 11, 23, 10, 0, 0).Ticks, OffsetSeconds = -5 };
        var lines = state.Describe().Split('\n');
        Assert.Equal("index 0c, NMI disabled; A 26 (DV 2, periodic 1024 Hz), B 42 (BCD, 24-hour, PIE), C 40 (IRQF PF), D 80 (VRT)", lines[0]);
        Assert.StartsWith("clock from 2026-11-23 10:00:00 at engine time 0, set by the guest by -5 s; time bytes below: last written", lines[1]);
        Assert.Equal(2 + 8, lines.Length);
        Assert.Equal("CMOS 00: 00 00 00 00 00 00 00 00 00 00 26 42 40 80 00 00", lines[2]);
        Assert.Equal("     70: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ab", lines[9]);
    }
}
