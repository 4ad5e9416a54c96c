using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;
using VmReplay.Replayer;

namespace VmReplay.Recorder.Tests;

public sealed class TraceComparisonTests
{
    private static TraceHeader Header(string cmdline = "console=ttyS0", string image = "ab12cd34ef56ab12cd34ef56", DateTime? wallClock = null) => new()
    {
        GuestName = "vmlinux",
        ImageSha256 = image,
        ImageSize = 1,
        MemorySize = 64 << 20,
        VcpuCount = 1,
        Cmdline = cmdline,
        WallClockBase = wallClock ?? new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        HostKernel = "6.8.0",
        HostCapabilities = new HostCapabilities(true, true, true, true, true, true, true, true, true, false, 255),
        CpuModel = [new CpuidLeaf(0, 0, 0xD, 0x756E6547, 0x6C65746E, 0x49656E69)],
    };

    private static ExitEvent Out(ushort port, char c, ulong rip = 0x1000) => new(2, rip, port, 1, ExitEvent.FlagWrite, 1, [(byte)c]);
    private static ExitEvent StatusRead => new(2, 0x0ff0, 0x3FD, 1, 0, 1, [0x60]);
    private static EndEvent End => new(RunOutcomeKind.Reset, 0, "reset", 1, 2);

    private static IEnumerable<TraceEvent> Printing(string text, long clock)
    {
        foreach (char c in text)
        {
            yield return new InputEvent(-1);
            yield return StatusRead;
            yield return new ServiceEvent();
            yield return new ClockEvent(clock += 1_000_000);
            yield return Out(0x3F8, c);
        }
        yield return End;
    }

    [Fact]
    public void RecordingsThatDifferOnlyInClockValuesAndWallClockAreIdentical()
    {
        var c = TraceComparison.Compare(Header(), Printing("ok\n", 0), Header(wallClock: DateTime.UnixEpoch), Printing("ok\n", 777));
        Assert.True(c.Identical);
        Assert.Null(c.Cause);
        Assert.Empty(c.HeaderDifferences);
    }

    [Fact]
    public void EndMemoryHashesAreComparedOnlyWhenBothFormatsDefineThemAlike()
    {
        var rehashed = Printing("ok\n", 0).Select(e => e is EndEvent end ? end with { MemoryHash = 99 } : e).ToList();
        var alike = TraceComparison.Compare(Header(), Printing("ok\n", 0), Header(), rehashed);
        Assert.Equal(15, alike.FirstDifference);
        // A version 3 trace hashes all of RAM at the end, a version 4 one its non-zero pages.
        Assert.True(TraceComparison.Compare(Header(), Printing("ok\n", 0), Header(), rehashed, compareMemoryHashes: false).Identical);
    }

    [Fact]
    public void ADifferentCommandLineIsNamedAndTheGuestsDifferentOutputClassified()
    {
        var c = TraceComparison.Compare(Header("console=ttyS0"), Printing("ab", 0), Header("console=ttyS0 quiet"), Printing("ax", 0));
        Assert.Equal(["command line differs: A 'console=ttyS0' B 'console=ttyS0 quiet'"], c.HeaderDifferences);
        Assert.Equal(9, c.FirstDifference);
        Assert.Equal(DifferenceKind.GuestBehaviour, c.Cause!.Kind);
        Assert.Contains("the guest did something different given the same inputs up to here", c.Cause.Summary);
        Assert.Contains("the trace headers differ", c.Cause.Summary);
        Assert.Equal(1, c.SerialDifference);
    }

    [Fact]
    public void ADifferentInitrdIsNamed()
    {
        var withInitrd = Header() with { InitrdName = "initramfs.cpio", InitrdSha256 = "0123456789abcdef0123", InitrdSize = 4096 };
        var c = TraceComparison.Compare(Header(), [End], withInitrd, [End]);
        Assert.True(c.Identical);
        Assert.Equal(["initrd differs: A none B initramfs.cpio (0123456789ab, 4096 bytes)"], c.HeaderDifferences);
    }

    [Fact]
    public void ADifferentBackendAndClockAreNamed()
    {
        var soft = Header() with { Backend = "soft", Clock = "virtual", NanosecondsPerInstruction = 10 };
        var c = TraceComparison.Compare(Header(), [End], soft, [End]);
        Assert.Equal(["CPU backend differs: A kvm B soft", "clock differs: A host B virtual"], c.HeaderDifferences);
    }

    [Fact]
    public void TheFirstDifferenceIsPlacedByTheLastInstructionCountBothShare()
    {
        ExitEvent Read(byte value, long n) => new(2, 0x1000, 0x3F8, 1, 0, 1, [value]) { Instructions = n };
        TraceEvent[] a = [Read(1, 50), new ScheduledServiceEvent(70), new InputEvent(0x41), End];
        TraceEvent[] b = [Read(1, 50), new ScheduledServiceEvent(70), new InputEvent(0x42), End];
        var c = TraceComparison.Compare(Header(), a, Header(), b);
        Assert.Equal(2, c.FirstDifference);
        Assert.Equal(70, c.InstructionsBeforeDifference);
        Assert.Null(TraceComparison.Compare(Header(), [new InputEvent(1), End], Header(), [new InputEvent(2), End]).InstructionsBeforeDifference);
    }

    [Fact]
    public void ADifferentPathAfterASharedServicePointIsHostTiming()
    {
        TraceEvent[] a = [StatusRead, new ServiceEvent(), new ClockEvent(5), new InputEvent(-1), Out(0x3F8, 'a'), End];
        TraceEvent[] b = [StatusRead, new ServiceEvent(), new ClockEvent(9), new InputEvent(-1), Out(0x20, ' ', rip: 0x2000), End];
        var c = TraceComparison.Compare(Header(), a, Header(), b);
        Assert.Equal(4, c.FirstDifference);
        Assert.Equal(DifferenceKind.HostTiming, c.Cause!.Kind);
        Assert.Contains("at event 1,", c.Cause.Summary);
    }

    [Fact]
    public void AServicePointBeforeTheLastCommonExitDoesNotCount()
    {
        TraceEvent[] a = [new ServiceEvent(), StatusRead, Out(0x3F8, 'a'), End];
        TraceEvent[] b = [new ServiceEvent(), StatusRead, Out(0x20, ' ', rip: 0x2000), End];
        Assert.Equal(DifferenceKind.GuestBehaviour, TraceComparison.Compare(Header(), a, Header(), b).Cause!.Kind);
    }

    [Fact]
    public void ATraceCutShortIsNamed()
    {
        var c = TraceComparison.Compare(Header(), Printing("abc", 0).Take(7), Header(), Printing("abc", 0));
        Assert.Equal(7, c.FirstDifference);
        Assert.Equal(DifferenceKind.CutShort, c.Cause!.Kind);
        Assert.Equal("(end of trace)", c.DifferenceA);
    }

    [Fact]
    public void DifferentImagesAreNotComparable()
    {
        var c = TraceComparison.Compare(Header(), [End], Header(image: "ffffffffffffffffffffffff"), [End]);
        Assert.StartsWith("different guest images", c.NotComparable);
        Assert.Null(c.Cause);
    }
}
