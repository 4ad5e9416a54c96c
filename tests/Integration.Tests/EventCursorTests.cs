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

    [Theory]
    // Runs of repetitions that fill batches (16,384 events), and a run of 2,000 that other
    // events end in the middle of a batch.
    [InlineData("bench-exits", "bench-exits.bin")]
    [InlineData("tscdata", "tscdata.elf")]
    public void RepetitionsTakenAsPredictedLeaveTheCursorWhereTakingEachOnItsOwnWould(string guest, string file)
    {
        // A cursor takes a run of repetitions by moving a prediction on, and works out its place
        // only when something else asks. Two cursors are offered the recorded exits as a
        // software CPU makes them: one is asked about its place at random moments (so runs of
        // predicted takes of every length end there), the other after every exit (so it never
        // takes one as predicted). They must agree on every answer.
        string trace = Path.Combine(_dir, guest + ".vmtrace");
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(record.ExitCode is 0 or 1, record.Stderr);
        using var reader = TraceReader.Open(trace);
        var events = reader.Events().ToList();
        var predicted = new EventCursor(reader.Batches(0), 0);
        var stepped = new EventCursor(reader.Batches(0), 0);
        var random = new Random(12);
        int asked = 0, refused = 0;
        for (int i = 0; i < events.Count; i++)
        {
            Assert.Equal(i, predicted.Position);
            if (events[i] is ExitEvent { Reason: (uint)ExitReason.Io } x)
            {
                if (random.Next(50) == 0)
                {
                    // One instruction later, or another value: not the recorded exit, not taken.
                    var wrong = random.Next(2) == 0 ? new RecordedExit(x with { Instructions = x.Instructions + 1 }) : new RecordedExit(x with { Data = [(byte)(x.Data[0] + 1), .. x.Data[1..]] });
                    Assert.False(predicted.TakeIfRecorded(null!, wrong), $"event {i}");
                    Assert.False(stepped.TakeIfRecorded(null!, wrong), $"event {i}");
                    Assert.Equal(i, predicted.Position);
                    refused++;
                }
                Assert.True(stepped.TakeIfRecorded(null!, new RecordedExit(x)), $"event {i}");
                Assert.True(predicted.TakeIfRecorded(null!, new RecordedExit(x)), $"event {i}");
                stepped.Peek();
            }
            else
            {
                Assert.Equal(events[i].Describe(), predicted.Peek()!.Describe());
                predicted.Advance();
                stepped.Advance();
            }
            Assert.Equal(stepped.Position, predicted.Position);
            if (random.Next(40) != 0) continue;
            asked++;
            switch (random.Next(4))
            {
                case 0:
                    Assert.Equal(stepped.PeekExit(out var next), predicted.PeekExit(out var fields));
                    Assert.True(fields.ToEvent().Matches(next.ToEvent()) && fields.Instructions == next.Instructions, $"event {i + 1}");
                    break;
                case 1:
                    Assert.Equal(stepped.PeekOther()?.Describe(), predicted.PeekOther()?.Describe());
                    break;
                case 2:
                    Assert.Equal(stepped.Recent.Select(r => (r.Index, r.Event.Describe())), predicted.Recent.Select(r => (r.Index, r.Event.Describe())));
                    break;
                default:
                    Assert.Equal(stepped.Peek()?.Describe(), predicted.Peek()?.Describe());
                    break;
            }
        }
        Assert.Null(predicted.Peek());
        Assert.True(asked > 20 && refused > 10, $"{asked} asked, {refused} refused");
    }

    // A recorded port exit as the software CPU makes it: the exit carries its position.
    private sealed class RecordedExit : VcpuExit
    {
        private readonly byte[] _data;

        public RecordedExit(ExitEvent x)
        {
            Kind = VcpuExitKind.PortIo;
            Port = (ushort)x.Address;
            Size = x.Size;
            Count = (int)x.Count;
            IsWrite = (x.Flags & ExitEvent.FlagWrite) != 0;
            _data = x.Data;
            HasPosition = true;
            Rip = x.Rip;
            Instructions = x.Instructions!.Value;
        }

        public override Span<byte> Data => _data;

        public override ulong MsrData { get; set; }

        public override bool MsrFailed { get; set; }
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
