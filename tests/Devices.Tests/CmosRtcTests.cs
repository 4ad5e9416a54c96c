using VmReplay.Devices.Rtc;

namespace VmReplay.Devices.Tests;

public class CmosRtcTests
{
    private readonly FakeClock _clock = new();
    private static readonly DateTime Base = new(2026, 11, 23, 13, 59, 58);

    private CmosRtc Rtc(ulong memory = 64UL << 20) => new(_clock, Base, memory);

    private static byte Reg(CmosRtc rtc, byte index)
    {
        rtc.Out(0, index);
        return rtc.In(1);
    }

    [Fact]
    public void BcdTimeAdvancesWithTheEngineClock()
    {
        var rtc = Rtc();
        Assert.Equal(0x58, Reg(rtc, 0));
        Assert.Equal(0x59, Reg(rtc, 2));
        Assert.Equal(0x13, Reg(rtc, 4));
        Assert.Equal(0x23, Reg(rtc, 7));
        Assert.Equal(0x11, Reg(rtc, 8));
        Assert.Equal(0x26, Reg(rtc, 9));
        Assert.Equal(0x20, Reg(rtc, 0x32));
        _clock.Now = 3_000_000_000;
        Assert.Equal(0x01, Reg(rtc, 0));
        Assert.Equal(0x00, Reg(rtc, 2));
        Assert.Equal(0x14, Reg(rtc, 4));
    }

    [Fact]
    public void BinaryAnd12HourModes()
    {
        var rtc = Rtc();
        rtc.Out(0, 0x0B); rtc.Out(1, 0x04); // binary, 12-hour
        Assert.Equal(58, Reg(rtc, 0));
        Assert.Equal(0x80 | 1, Reg(rtc, 4)); // 1 PM
    }

    [Fact]
    public void SetFreezesTimeAndWritesStick()
    {
        var rtc = Rtc();
        rtc.Out(0, 0x0B); rtc.Out(1, 0x82); // SET, BCD, 24h
        rtc.Out(0, 0x04); rtc.Out(1, 0x08);
        rtc.Out(0, 0x02); rtc.Out(1, 0x30);
        rtc.Out(0, 0x00); rtc.Out(1, 0x00);
        _clock.Now = 5_000_000_000;
        Assert.Equal(0x00, Reg(rtc, 0)); // frozen
        rtc.Out(0, 0x0B); rtc.Out(1, 0x02);
        _clock.Now = 7_000_000_000;
        Assert.Equal(0x08, Reg(rtc, 4));
        Assert.Equal(0x30, Reg(rtc, 2));
        Assert.Equal(0x02, Reg(rtc, 0));
    }

    [Fact]
    public void RegisterDIsValidAndCClearsOnRead()
    {
        var rtc = Rtc();
        Assert.Equal(0x80, Reg(rtc, 0x0D));
        Assert.Equal(0x00, Reg(rtc, 0x0C));
    }

    [Fact]
    public void UpdateInProgressIsSetJustBeforeEachSecond()
    {
        var rtc = Rtc();
        _clock.Now = 500_000_000;
        Assert.Equal(0, Reg(rtc, 0x0A) & 0x80);
        _clock.Now = 999_900_000;
        Assert.Equal(0x80, Reg(rtc, 0x0A) & 0x80);
    }

    [Fact]
    public void NmiBitIsNotPartOfTheIndex()
    {
        var rtc = Rtc();
        rtc.Out(0, 0x80 | 0x15);
        Assert.Equal(0x80, rtc.In(1)); // base memory low byte: 640 = 0x280
        Assert.Equal(0xFF, rtc.In(0));  // index port is write-only
    }

    [Fact]
    public void MemorySizeBytesFor64MiB()
    {
        var rtc = Rtc(64UL << 20);
        Assert.Equal(640, Reg(rtc, 0x15) | Reg(rtc, 0x16) << 8);
        Assert.Equal(63 * 1024, Reg(rtc, 0x17) | Reg(rtc, 0x18) << 8);
        Assert.Equal(63 * 1024, Reg(rtc, 0x30) | Reg(rtc, 0x31) << 8);
        Assert.Equal(48 * 16, Reg(rtc, 0x34) | Reg(rtc, 0x35) << 8); // above 16 MiB in 64 KiB
        Assert.Equal(0, Reg(rtc, 0x5B));
    }

    [Fact]
    public void MemorySizeBytesFor4AndAHalfGiB()
    {
        var rtc = Rtc(4608UL << 20);
        Assert.Equal(0xFFFF, Reg(rtc, 0x17) | Reg(rtc, 0x18) << 8); // capped
        Assert.Equal((3072 - 16) * 16, Reg(rtc, 0x34) | Reg(rtc, 0x35) << 8); // 16 MiB..3 GiB hole
        int above4G = Reg(rtc, 0x5B) | Reg(rtc, 0x5C) << 8 | Reg(rtc, 0x5D) << 16;
        Assert.Equal(1536 * 16, above4G); // 1.5 GiB moved above 4 GiB
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        var a = Rtc();
        a.Out(0, 0x0B); a.Out(1, 0x06);
        a.Out(0, 0x40); a.Out(1, 0x77);
        a.Out(0, 0x00);
        var b = Rtc();
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        _clock.Now = 12_345_000_000;
        foreach (byte r in new byte[] { 0, 2, 4, 7, 8, 9, 0x0B, 0x40, 0x17 })
            Assert.Equal(Reg(a, r), Reg(b, r));
    }
}
