using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A replay reads its events through <see cref="EventCursor"/>, which decodes the trace's batches
/// an event at a time and compares exits as values: from any position (a snapshot restore
/// starts mid-batch) it must give the events the trace holds, in order, whichever way they are
/// asked for, and report the last ones consumed.
/// </summary>
public sealed class EventCursorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-cursor-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    // Serial input polls among the exits, and the 200,000 exits of one port, which each batch
    // holds as two exits and a repeat.
    [InlineData("echo", "echo.elf")]
    [InlineData("bench-exits", "bench-exits.bin")]
    public void FromAnyPositionItGivesTheRecordedEventsInOrder(string guest, string file)
    {
        string input = Path.Combine(_dir, "input");
        File.WriteAllText(input, "hello, cursor\nquit\n");
        string trace = Path.Combine(_dir, guest + ".vmtrace");
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", input], cpu: "soft");
        Assert.True(record.ExitCode is 0 or 1, record.Stderr);

        using var reader = TraceReader.Open(trace);
        var events = reader.Events().ToList();
        var chunkStarts = reader.EventChunks.Select(c => (long)c.FirstEvent).ToList();
        Assert.True(chunkStarts.Count > 1 || guest == "echo", $"{chunkStarts.Count} chunks");
        long boundary = chunkStarts[^1];
        // In bench-exits, the events from 3 on are repetitions (after a service point and two exits).
        long[] positions = [0, 1, 2, 7, 300, 5000, boundary - 1, boundary, boundary + 1, events.Count - 1, events.Count];
        Assert.Contains(events, e => e is ExitEvent);
        Assert.Contains(events, e => e is not ExitEvent);

        foreach (long start in positions.Where(p => p >= 0 && p <= events.Count).Distinct())
        {
            var cursor = new EventCursor(reader.Batches(start), start);
            for (long i = start; i < events.Count; i++)
            {
                Assert.Equal(i, cursor.Position);
                var expected = events[(int)i];
                // Asked in the order a replay asks: is a service point next, is it an exit, what is it.
                var other = cursor.PeekOther();
                bool isExit = cursor.PeekExit(out var fields);
                Assert.Equal(expected is ExitEvent, isExit);
                if (expected is ExitEvent x)
                {
                    Assert.Null(other);
                    Assert.True(x.Matches(fields.ToEvent()) && fields.Instructions == x.Instructions, $"event {i}: {fields.ToEvent().Describe()}, recorded {x.Describe()}");
                }
                else Assert.Equal(expected.Describe(), other!.Describe());
                Assert.Equal(expected.Describe(), cursor.Peek()!.Describe());
                cursor.Advance();
            }
            Assert.Null(cursor.Peek());
            Assert.Null(cursor.PeekOther());
            Assert.False(cursor.PeekExit(out _));
            var recent = cursor.Recent.ToList();
            long first = Math.Max(start, events.Count - 8);
            Assert.Equal(Enumerable.Range((int)first, events.Count - (int)first).Select(i => ((long)i, events[i].Describe())),
                recent.Select(r => (r.Index, r.Event.Describe())));
        }
    }

    [Fact]
    public void AnExitThatIsNotTheRecordedOneIsNotTakenAndLeavesTheCursorWhereItWas()
    {
        using var reader = TraceReader.Open(RecordBenchExits());
        var events = reader.Events().ToList();
        using var session = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        var vcpu = session.Machine.Vcpu;
        var cursor = new EventCursor(reader.Batches(0), 0);
        while (cursor.PeekOther() is not null) cursor.Advance();
        long first = cursor.Position;

        // The guest's first exit is the first one recorded: taken.
        var exit = vcpu.Run();
        Assert.True(cursor.TakeIfRecorded(vcpu, exit));
        Assert.Equal(first + 1, cursor.Position);

        // The next recorded exit is another (a later instruction count), even once looked at;
        // the cursor goes on from where it stood.
        while (cursor.PeekOther() is not null) cursor.Advance();
        long at = cursor.Position;
        Assert.True(cursor.PeekExit(out _));
        Assert.False(cursor.TakeIfRecorded(vcpu, exit));
        Assert.Equal(at, cursor.Position);
        cursor.Advance();
        for (long i = at + 1; i < Math.Min(at + 5, events.Count); i++)
        {
            Assert.Equal(events[(int)i].Describe(), cursor.Peek()!.Describe());
            cursor.Advance();
        }
    }

    [Fact]
    public void RepetitionsOfARepeatedExitAreTakenOneByOneAndOneThatDiffersIsNot()
    {
        // bench-exits repeats one port write: after its first two exits, a replay checks each
        // repetition against the last exit taken as values (ExitShape), not as bytes.
        using var reader = TraceReader.Open(RecordBenchExits());
        var events = reader.Events().Take(5000).ToList();
        using var session = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        var vcpu = session.Machine.Vcpu;
        var cursor = new EventCursor(reader.Batches(0), 0);
        for (int i = 0; i < 3000; i++)
        {
            while (cursor.PeekOther() is not null) cursor.Advance();
            long at = cursor.Position;
            var exit = vcpu.Run();
            Assert.True(cursor.TakeIfRecorded(vcpu, exit), $"exit at event {at}");
            Assert.Equal(at + 1, cursor.Position);
            Assert.True(events[(int)at] is ExitEvent x && x.Matches(ExitFingerprint.Capture(vcpu, exit)) && x.Instructions == vcpu.InstructionsRetired);
            if (i != 1500) continue;
            // The same exit again (no instruction retired since): its deltas differ from the
            // repetition recorded next, so it is not taken, and the cursor stays.
            Assert.False(cursor.TakeIfRecorded(vcpu, exit));
            Assert.Equal(at + 1, cursor.Position);
            Assert.True(cursor.PeekExit(out var next) && next.Instructions == vcpu.InstructionsRetired + 3);
        }
        long last = cursor.Position;
        Assert.Equal(Enumerable.Range((int)last - 8, 8).Select(i => ((long)i, events[i].Describe())), cursor.Recent.Select(r => (r.Index, r.Event.Describe())));
    }

    // bench-exits (200,000 writes to one port) recorded on the software CPU.
    private string RecordBenchExits()
    {
        string trace = Path.Combine(_dir, "bench-exits.vmtrace");
        var record = Vmreplay.Run(["record", Vmreplay.Guest("bench-exits", "bench-exits.bin"), "-o", trace], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr);
        return trace;
    }
}
