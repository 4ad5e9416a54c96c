using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;
using VmReplay.Replayer;

namespace VmReplay.Recorder.Tests;

public sealed class DifferenceCauseTests
{
    private const ulong Rip = 0xffffffff810c78de;

    private static ExitEvent In(ushort port, byte value, ulong rip = Rip) => new(2, rip, port, 1, 0, 1, [value]);
    private static ExitEvent Out(ushort port, byte value, ulong rip = Rip) => new(2, rip, port, 1, ExitEvent.FlagWrite, 1, [value]);
    private static ExitEvent Rdmsr(uint msr, long value) => new(29, Rip, msr, 8, 0, 1, BitConverter.GetBytes(value));

    private static DifferenceCause Classify(TraceEvent[] a, TraceEvent[] b, long? service = null, bool headersDiffer = false) =>
        DifferenceCause.Classify(100, service, a, b, headersDiffer);

    [Fact]
    public void AServicePointOnOneSideIsHostTiming()
    {
        var c = Classify([Out(0x3F8, 0x32)], [new ServiceEvent(), new ClockEvent(5), new InputEvent(-1)]);
        Assert.Equal(DifferenceKind.HostTiming, c.Kind);
        Assert.Equal("the host serviced timers/input at a different point (event 100): the recordings differ in host timing from here; the guest behaved the same up to it", c.Summary);
        Assert.StartsWith("host timing - ", c.ToString());
    }

    [Fact]
    public void AForcedPointAtADifferentPlaceIsHostTiming()
    {
        var forced = (ulong rip) => new ForcedServiceEvent(rip, new ulong[ForcedServiceEvent.RegisterCount], 7);
        Assert.Equal(DifferenceKind.HostTiming, Classify([forced(0x1000)], [forced(0x1004)]).Kind);
    }

    [Theory]
    [InlineData(0x40, "the PIT")]
    [InlineData(0x61, "port 61")]
    [InlineData(0x71, "the CMOS clock")]
    [InlineData(0x20, "the interrupt controller")]
    [InlineData(0x3FD, "COM1's line status")]
    public void ADifferentValueFromAHostTimedPortIsHostTiming(ushort port, string device)
    {
        var c = Classify([In(port, 0x25)], [In(port, 0x45)]);
        Assert.Equal(DifferenceKind.HostTiming, c.Kind);
        Assert.Contains($"the guest read a different value from {device}", c.Summary);
        Assert.Contains("A 25, B 45", c.Summary);
    }

    [Fact]
    public void ADifferentTscMsrReadIsHostTimingAndAnotherMsrIsInput()
    {
        Assert.Equal(DifferenceKind.HostTiming, Classify([Rdmsr(0x10, 1)], [Rdmsr(0x10, 2)]).Kind);
        Assert.Equal(DifferenceKind.Input, Classify([Rdmsr(0x1B, 1)], [Rdmsr(0x1B, 2)]).Kind);
    }

    [Fact]
    public void DifferentSerialInputIsInput()
    {
        var c = Classify([new InputEvent('a')], [new InputEvent('x')]);
        Assert.Equal(DifferenceKind.Input, c.Kind);
        Assert.Equal("the recordings got different input at event 100 (serial input: A byte 61, B byte 78)", c.Summary);
        Assert.Contains("A byte 61, B nothing", Classify([new InputEvent('a')], [new InputEvent(-1)]).Summary);
    }

    [Fact]
    public void ADifferentByteFromTheSerialDataPortIsInput()
    {
        var c = Classify([In(0x3F8, 0x61)], [In(0x3F8, 0x78)]);
        Assert.Equal(DifferenceKind.Input, c.Kind);
        Assert.Contains("port 03f8 read A 61, B 78", c.Summary);
    }

    [Fact]
    public void ADifferentByteWrittenAtTheSameInstructionIsTheGuestEvenRightAfterAService()
    {
        var c = Classify([Out(0x3F8, 0x0D)], [Out(0x3F8, 0x20)], service: 98);
        Assert.Equal(DifferenceKind.GuestBehaviour, c.Kind);
        Assert.StartsWith("the guest did something different given the same inputs up to here (event 100: at the same instruction", c.Summary);
        Assert.Contains("A wrote 0D and B 20", c.Summary);
        Assert.DoesNotContain("headers", c.Summary);
        Assert.EndsWith("the trace headers differ (above), the likely reason", Classify([Out(0x3F8, 0x0D)], [Out(0x3F8, 0x20)], headersDiffer: true).Summary);
    }

    [Fact]
    public void TheSameAccessAfterADifferentInstructionCountIsTheGuestEvenRightAfterAService()
    {
        var c = Classify([In(0x3FD, 0x60) with { Instructions = 1000 }], [In(0x3FD, 0x60) with { Instructions = 1200 }], service: 99);
        Assert.Equal(DifferenceKind.GuestBehaviour, c.Kind);
        Assert.Contains("the same access at RIP ffffffff810c78de, after 1000 instructions in A and 1200 in B", c.Summary);
    }

    [Fact]
    public void ADifferentPathRightAfterAServicePointIsHostTimingAndWithoutOneIsTheGuest()
    {
        TraceEvent[] a = [Out(0x3F8, 0x41, rip: 0x1000)], b = [Out(0x20, 0x20, rip: 0x2000)];
        var afterService = Classify(a, b, service: 97);
        Assert.Equal(DifferenceKind.HostTiming, afterService.Kind);
        Assert.Contains("right after the host serviced timers/input at event 97", afterService.Summary);
        var plain = Classify(a, b);
        Assert.Equal(DifferenceKind.GuestBehaviour, plain.Kind);
        Assert.Contains("A at RIP 1000, B at RIP 2000", plain.Summary);
    }

    [Fact]
    public void AClockReadingOnOneSideIsJudgedByTheExitThatFollows()
    {
        // The same PIT access, with one more clock reading on A's side: the device, not the guest.
        var same = Classify([new ClockEvent(1), In(0x40, 3)], [In(0x40, 3)]);
        Assert.Equal(DifferenceKind.HostTiming, same.Kind);
        Assert.Contains("a different number of times", same.Summary);
        // A poll before a status read on A's side, a write on B's: the guest made a different access.
        var guest = Classify([new InputEvent(-1), In(0x3FD, 0x60, rip: 0x1000)], [Out(0x3F8, 0x20, rip: 0x2000)]);
        Assert.Equal(DifferenceKind.GuestBehaviour, guest.Kind);
        // A service point follows on one side.
        Assert.Equal(DifferenceKind.HostTiming, Classify([new InputEvent(-1), new ServiceEvent()], [Out(0x3F8, 0x20)]).Kind);
    }

    [Fact]
    public void RunsThatEndAlikeWithDifferentFinalMemoryGotUnrecordedInput()
    {
        var c = Classify([new EndEvent(RunOutcomeKind.Reset, 0, "reset", 1, 2)], [new EndEvent(RunOutcomeKind.Reset, 0, "reset", 1, 3)]);
        Assert.Equal(DifferenceKind.Input, c.Kind);
        Assert.Contains("final memory differs", c.Summary);
        Assert.Contains("RDTSC", c.Summary);
    }

    [Fact]
    public void ARunEndingWhileTheOtherGoesOnIsTheGuest()
    {
        var c = Classify([new EndEvent(RunOutcomeKind.DebugExit, 3, "exit", 1, 2)], [Out(0x3F8, 0x41)]);
        Assert.Equal(DifferenceKind.GuestBehaviour, c.Kind);
        Assert.Contains("A's run ended (DebugExit) while B's went on", c.Summary);
    }

    [Fact]
    public void ATraceWithoutItsRemainingEventsWasCutShort()
    {
        var c = Classify([Out(0x3F8, 0x41)], []);
        Assert.Equal(DifferenceKind.CutShort, c.Kind);
        Assert.StartsWith("recording B ends at event 100", c.Summary);
    }
}
