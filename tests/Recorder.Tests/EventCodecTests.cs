using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder.Tests;

public sealed class EventCodecTests
{
    private static ulong[] Registers(ulong seed) =>
        Enumerable.Range(0, ForcedServiceEvent.RegisterCount).Select(i => seed * 0x9E3779B97F4A7C15UL + (ulong)i).ToArray();

    [Fact]
    public void EveryKindRoundTripsWithDeltasAcrossTheBatch()
    {
        TraceEvent[] events =
        [
            new ExitEvent(2, 0xffffffff810c78de, 0x3f8, 1, ExitEvent.FlagWrite, 1, [0x41]),
            new ClockEvent(12_788_403_386),
            new InputEvent(-1),
            new InputEvent(0x61),
            new ExitEvent(2, 0x1000, 0x3fd, 1, 0, 1, [0x60]), // RIP going down: a negative delta
            new ClockEvent(5),
            new ServiceEvent(),
            new ForcedServiceEvent(0xffffffff81034363, Registers(1), 0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321),
            new ForcedServiceEvent(0xffffffff81034372, Registers(2), 42),
            new EndEvent(RunOutcomeKind.Reset, 0, "guest reset the machine", 1, 2),
        ];
        var decoded = EventCodec.Decode(EventCodec.Encode(events));
        Assert.Equal(events.Length, decoded.Count);
        for (int i = 0; i < events.Length; i++)
        {
            switch (events[i], decoded[i])
            {
                case (ExitEvent x, ExitEvent y): Assert.True(x.Matches(y), $"event {i}"); break;
                case (ForcedServiceEvent f, ForcedServiceEvent g):
                    Assert.Equal(f.LinearRip, g.LinearRip);
                    Assert.Equal(f.Registers, g.Registers);
                    Assert.Equal(f.DirtyHash, g.DirtyHash);
                    Assert.Equal(f.PageListHash, g.PageListHash);
                    break;
                default: Assert.Equal(events[i], decoded[i]); break;
            }
        }
    }

    [Fact]
    public void AForcedPointWithoutAPageListIsKind5AsInVersion1AndOneWithItKind7()
    {
        var v1 = EventCodec.Encode([new ForcedServiceEvent(0x10, Registers(3), 7)]);
        var v2 = EventCodec.Encode([new ForcedServiceEvent(0x10, Registers(3), 7, 9)]);
        Assert.Equal(5, v1[0]);
        Assert.Equal(7, v2[0]);
        Assert.Equal(v1.Length + 8, v2.Length);
        Assert.Null(((ForcedServiceEvent)EventCodec.Decode(v1)[0]).PageListHash);
        Assert.Equal(9UL, ((ForcedServiceEvent)EventCodec.Decode(v2)[0]).PageListHash);
    }

    [Fact]
    public void ExitsWithInstructionCountsAreKind9AndShareTheCountDeltaWithServicePoints()
    {
        TraceEvent[] events =
        [
            new ExitEvent(2, 0x1000, 0x3f8, 1, ExitEvent.FlagWrite, 1, [0x41]) { Instructions = 1_000_000 },
            new ScheduledServiceEvent(1_000_500),
            new ExitEvent(29, 0x1010, 0x10, 8, 0, 1, new byte[8]) { Instructions = 1_000_501 },
            new ExitEvent(2, 0x1020, 0x3fd, 1, 0, 1, [0x60]),
        ];
        var bytes = EventCodec.Encode(events);
        Assert.Equal(9, bytes[0]);
        var decoded = EventCodec.Decode(bytes);
        Assert.Equal([1_000_000L, 1_000_501L, null], decoded.OfType<ExitEvent>().Select(x => x.Instructions));
        Assert.Equal(1_000_500, ((ScheduledServiceEvent)decoded[1]).Instructions);
        Assert.Equal("instruction 1000000", System.Text.RegularExpressions.Regex.Match(decoded[0].Describe(), @"instruction \d+").Value);
    }

    [Fact]
    public void ExitsMatchOnTheirCountWhereBothHaveOne()
    {
        var exit = new ExitEvent(2, 0x1000, 0x3f8, 1, ExitEvent.FlagWrite, 1, [0x41]);
        Assert.True((exit with { Instructions = 5 }).Matches(exit with { Instructions = 5 }));
        Assert.False((exit with { Instructions = 5 }).Matches(exit with { Instructions = 6 }));
        // A KVM recording has no counts; replayed on the software CPU, the access alone decides.
        Assert.True(exit.Matches(exit with { Instructions = 6 }));
    }

    [Fact]
    public void ANegativeInstructionCountIsRefusedNamingTheByte()
    {
        var bytes = EventCodec.Encode([new ExitEvent(2, 0x1000, 0x3f8, 1, 0, 1, [0x41]) { Instructions = 0 }]);
        bytes[^1] = 1; // zigzag 1 = -1
        var e = Assert.Throws<FormatException>(() => EventCodec.Decode(bytes));
        Assert.Equal("exit at byte 0 has a negative instruction count", e.Message);
    }
}
