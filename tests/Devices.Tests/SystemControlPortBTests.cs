using VmReplay.Devices.Timer;

namespace VmReplay.Devices.Tests;

public class SystemControlPortBTests
{
    private readonly FakeClock _clock = new();
    private readonly Pit8254 _pit;
    private readonly SystemControlPortB _port;

    public SystemControlPortBTests()
    {
        _pit = new Pit8254(_clock, new FakeIrq());
        _port = new SystemControlPortB(_pit);
    }

    private static long AtTick(long ticks) => (long)(((Int128)ticks * 1_000_000_000 + Pit8254.FrequencyHz - 1) / Pit8254.FrequencyHz);

    private void ProgramCounter2(int mode, int count)
    {
        _pit.Out(3, (byte)(0b1011_0000 | mode << 1));
        _pit.Out(2, (byte)count);
        _pit.Out(2, (byte)(count >> 8));
    }

    [Fact]
    public void Counter2GateIsLowAtReset()
    {
        Assert.False(_pit.Channel2Gate);
        Assert.Equal(0, _port.In(0) & 0x0F);
    }

    [Fact]
    public void Bit0GatesCounter2AndBit5ReadsItsOutput()
    {
        ProgramCounter2(0, 10);
        _clock.Now = AtTick(50);
        Assert.Equal(0, _port.In(0) & 0x20); // gate low: not counting, OUT low (mode 0)
        _port.Out(0, 0x01);
        Assert.True(_pit.Channel2Gate);
        _clock.Now = AtTick(50) + AtTick(9);
        Assert.Equal(0, _port.In(0) & 0x20);
        _clock.Now = AtTick(50) + AtTick(10);
        Assert.Equal(0x20, _port.In(0) & 0x20); // terminal count reached
        Assert.Equal(0x01, _port.In(0) & 0x01);
    }

    [Fact]
    public void LinuxStyleCalibrationLoopSeesTheOutputRiseAfterTheCount()
    {
        // As Linux's pit_calibrate_tsc: gate on, speaker off, counter 2 mode 0, poll bit 5.
        _port.Out(0, (byte)((_port.In(0) & ~0x02) | 0x01));
        ProgramCounter2(0, 11932); // ≈ 10 ms
        int polls = 0;
        while ((_port.In(0) & 0x20) == 0)
        {
            _clock.Now += 100_000;
            polls++;
        }
        Assert.InRange(polls, 99, 101);
    }

    [Fact]
    public void Mode2GateLowForcesOutputHighAndARisingGateReloads()
    {
        ProgramCounter2(2, 100);
        _port.Out(0, 0x01);
        _clock.Now = AtTick(99);
        Assert.Equal(0, _port.In(0) & 0x20); // count 1: the low pulse
        _port.Out(0, 0x00);
        Assert.Equal(0x20, _port.In(0) & 0x20); // gate low: OUT high at once
        _clock.Now = AtTick(150);
        _port.Out(0, 0x01); // reload and start a fresh period
        _clock.Now = AtTick(150) + AtTick(30);
        _pit.Out(3, 0x80); // latch counter 2
        Assert.Equal(70, _pit.In(2) | _pit.In(2) << 8);
    }

    [Fact]
    public void Mode1IsTriggeredByTheGatesRisingEdge()
    {
        ProgramCounter2(1, 20);
        Assert.Equal(0x20, _port.In(0) & 0x20); // OUT high until triggered
        _port.Out(0, 0x01);
        _clock.Now = AtTick(5);
        Assert.Equal(0, _port.In(0) & 0x20); // one-shot running: OUT low
        _port.Out(0, 0x00); // the gate's level does not matter once triggered
        _clock.Now = AtTick(20);
        Assert.Equal(0x20, _port.In(0) & 0x20);
        _clock.Now = AtTick(30);
        _port.Out(0, 0x01); // retrigger
        _clock.Now = AtTick(31);
        Assert.Equal(0, _port.In(0) & 0x20);
    }

    [Fact]
    public void Mode0GateLowPausesCounting()
    {
        ProgramCounter2(0, 1000);
        _port.Out(0, 0x01);
        _clock.Now = AtTick(100);
        _port.Out(0, 0x00);
        _clock.Now = AtTick(500);
        _pit.Out(3, 0x80);
        Assert.Equal(900, _pit.In(2) | _pit.In(2) << 8);
    }

    [Fact]
    public void RefreshBitTogglesOnEveryReadAndWritableBitsReadBack()
    {
        byte first = _port.In(0), second = _port.In(0), third = _port.In(0);
        Assert.NotEqual(first & 0x10, second & 0x10);
        Assert.Equal(first & 0x10, third & 0x10);
        _port.Out(0, 0xFE); // bits 4-7 are read-only
        Assert.Equal(0x0E, _port.In(0) & 0xCF);
        Assert.True(_port.SpeakerEnabled);
        Assert.False(_pit.Channel2Gate);
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        _port.Out(0, 0x07);
        _port.In(0);
        var pitB = new Pit8254(_clock, new FakeIrq());
        pitB.RestoreState(StateJson.RoundTrip(_pit.SaveState()));
        var b = new SystemControlPortB(pitB);
        b.RestoreState(StateJson.RoundTrip(_port.SaveState()));
        for (int i = 0; i < 3; i++) Assert.Equal(_port.In(0), b.In(0));
        _port.Out(0, 0x00);
        b.Out(0, 0x00);
        Assert.Equal(_port.In(0), b.In(0));
        Assert.Equal(_port.SpeakerEnabled, b.SpeakerEnabled);
    }

    [Fact]
    public void DescribeNamesTheControlBits()
    {
        Assert.Equal("control 03: counter 2 gate 1, speaker data 1, check bits 2-3 0; refresh toggle 1",
            new SystemControlPortBState { Control = 0x03, RefreshToggle = true }.Describe());
    }
}
