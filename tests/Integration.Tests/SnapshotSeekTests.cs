using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using System.Text.Json;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>Snapshots in a trace: verified by replay, and the base of seeking to any position.</summary>
public sealed class SnapshotSeekTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-seek-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string guest, string file, string every)
    {
        string trace = Path.Combine(_dir, $"{guest}-{every}.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", every]);
        Assert.True(r.ExitCode is 1, r.Stderr);
        return trace;
    }

    /// <summary>Everything that makes up the machine at a point: registers, RAM, devices, counters, trace position.</summary>
    private static string StateOf(ReplaySession s)
    {
        var (regs, memory) = FinalState.Hash(s.Machine.Backend, TraceFormat.Version);
        var state = s.Machine.CaptureState();
        string devices = JsonSerializer.Serialize(state.Platform, new JsonSerializerOptions { IncludeFields = true });
        return $"{s.Position} regs {regs:x16} memory {memory:x16} counters {state.Counters} next event {s.Sources.Events.Position} devices {devices}";
    }

    [Fact]
    public void AnIntervalOfGuestTimeSpacesTheSnapshotsByThatMuchGuestTime()
    {
        // The software CPU's virtual clock: guest time is the instruction count, the same in every run.
        string trace = Path.Combine(_dir, "timer-10ms.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "10ms"], cpu: "soft");
        Assert.True(r.ExitCode is 1, r.Stderr);
        using var reader = TraceReader.Open(trace);
        var times = reader.Snapshots.Select(c => reader.ReadSnapshot(c, withPages: false).EngineNanoseconds).ToList();
        Assert.True(times.Count >= 5, $"only {times.Count} snapshots");
        for (int i = 1; i < times.Count; i++)
            Assert.True(times[i] - times[i - 1] >= 10_000_000, $"snapshots {i - 1} and {i} at {times[i - 1]} and {times[i]} ns of guest time");
    }

    [Theory]
    [InlineData("timer", "timer.elf")]
    [InlineData("timer64", "timer64.elf")]
    public void SeekingToRandomPositionsLandsOnTheStateOfAStraightReplay(string guest, string file)
    {
        string trace = Record(guest, file, "20");
        using var reader = TraceReader.Open(trace);
        long events = reader.Events().LongCount();
        Assert.True(reader.Snapshots.Count > 5, $"only {reader.Snapshots.Count} snapshots");
        var random = new Random(1234);
        var targets = Enumerable.Range(0, 10)
            .Select(_ => new ReplayPosition(random.NextInt64(0, events * 4 / 5), 0))
            .ToList();

        // Straight: from the start, forward only, no snapshot restored.
        var straight = new Dictionary<ReplayPosition, string>();
        using (var s = ReplaySession.Open(reader, "/dev/kvm", Stream.Null))
        {
            s.UseSnapshots = false;
            foreach (var t in targets.Order())
            {
                s.Seek(t);
                straight[t] = StateOf(s);
            }
            Assert.Equal(0, s.Restores);
        }
        // Seeking: one session, in random order (backwards too), restoring snapshots.
        using var seek = ReplaySession.Open(reader, "/dev/kvm", Stream.Null);
        foreach (var t in targets.OrderBy(_ => random.Next()))
        {
            seek.Seek(t);
            string actual = StateOf(seek);
            Assert.True(straight[t] == actual, $"at {t} after {seek.Restores} restores:\nstraight {straight[t]}\nseek     {actual}");
        }
        Assert.True(seek.Restores > 0);
    }

    [Theory]
    [InlineData("timer", "timer.elf")]
    [InlineData("timer64", "timer64.elf")]
    public void InstructionOffsetsFromARestoredSnapshotCountAsInAStraightReplay(string guest, string file)
    {
        // A restored snapshot is a stop whose instruction is complete: stepping on from it must
        // not count that stop as an instruction, whatever exit the session handled before the
        // restore (an I/O exit there once made every such offset one instruction too far).
        string trace = Record(guest, file, "20");
        using var reader = TraceReader.Open(trace);
        var targets = reader.Snapshots.Skip(1).Take(6).Select(c => new ReplayPosition((long)c.FirstEvent, 2)).ToList();
        Assert.True(targets.Count >= 4, $"only {targets.Count} snapshots");

        var straight = new Dictionary<ReplayPosition, string>();
        using (var s = ReplaySession.Open(reader, "/dev/kvm", Stream.Null))
        {
            s.UseSnapshots = false;
            foreach (var t in targets)
            {
                s.Seek(t);
                straight[t] = StateOf(s);
            }
        }
        // Backwards, so that every seek restores a snapshot after the session ran past exits.
        using var seek = ReplaySession.Open(reader, "/dev/kvm", Stream.Null);
        seek.RunFree((long)reader.Snapshots[^1].FirstEvent + 1, stopAtHit: false);
        foreach (var t in targets.AsEnumerable().Reverse())
        {
            int restores = seek.Restores;
            seek.Seek(t);
            Assert.Equal(restores + 1, seek.Restores);
            Assert.True(straight[t] == StateOf(seek), $"at {t}:\nstraight {straight[t]}\nseek     {StateOf(seek)}");
        }
    }

    [Fact]
    public void ReplayToAPositionPrintsTheSameStateWithAndWithoutSnapshots()
    {
        string trace = Record("timer", "timer.elf", "20");
        long middle;
        using (var reader = TraceReader.Open(trace)) middle = reader.Events().LongCount() / 2;
        var viaSnapshot = Vmreplay.Run(["replay", trace, "--to", $"{middle}+3"]);
        var fromStart = Vmreplay.Run(["replay", trace, "--to", $"{middle}+3", "--from-start"]);
        Assert.True(viaSnapshot.ExitCode == 0, viaSnapshot.Stderr);
        Assert.True(fromStart.ExitCode == 0, fromStart.Stderr);
        Assert.Matches($@"at event {middle} \+ 3 instructions \(after exit \d+, 1 snapshot restores\); state hash", viaSnapshot.Stderr);
        Assert.Equal(fromStart.Stderr.Split('\n')[0].Split(';')[1], viaSnapshot.Stderr.Split('\n')[0].Split(';')[1]);
        Assert.Contains("instruction at rip:", viaSnapshot.Stderr);

        var beyond = Vmreplay.Run(["replay", trace, "--to", "99999999"]);
        Assert.Equal(3, beyond.ExitCode);
        Assert.Matches(@"^vmreplay: .*the recording ends .* before event 99999999\n$", beyond.Stderr);
        var bad = Vmreplay.Run(["replay", trace, "--to", "12+x"]);
        Assert.Equal(3, bad.ExitCode);
        Assert.Contains("not a position", bad.Stderr);
    }

    [Fact]
    public void ReplayVerifiesEverySnapshotAndStopsAtATamperedOne()
    {
        string trace = Record("timer", "timer.elf", "15");
        int count;
        using (var reader = TraceReader.Open(trace)) count = reader.Snapshots.Count;
        var replay = Vmreplay.Run(["replay", trace]);
        Assert.Equal(1, replay.ExitCode);
        // Snapshot 0 is the start state every replay restores; each later one is checked against it.
        Assert.Contains($"and {count - 1} snapshots", replay.Stderr);

        string tampered = Path.Combine(_dir, "tampered.vmtrace");
        long at = RewriteSnapshot(trace, tampered, 3, s => s with { Machine = s.Machine with { Counters = s.Machine.Counters with { InterruptsDelivered = s.Machine.Counters.InterruptsDelivered + 1 } } });
        var bad = Vmreplay.Run(["replay", tampered]);
        Assert.Equal(4, bad.ExitCode);
        Assert.Contains($"replay diverged at event {at}: expected run-loop counters", bad.Stderr);
        Assert.Contains("snapshot 3", bad.Stderr);
    }

    [Fact]
    public void SnapshotsAreFullThenIncrementalAndInfoCountsThem()
    {
        string trace = Record("timer", "timer.elf", "30");
        using var reader = TraceReader.Open(trace);
        var snaps = reader.Snapshots.Select(c => reader.ReadSnapshot(c, withPages: true)).ToList();
        Assert.Equal(SnapshotKind.Full, snaps[0].Kind);
        Assert.Equal(0, snaps[0].ExitCount);
        Assert.All(snaps.Skip(1), s => Assert.Equal(SnapshotKind.Incremental, s.Kind));
        Assert.All(snaps.Skip(1), s => Assert.True(s.Pages.Length < snaps[0].Pages.Length, "an incremental snapshot holds only the pages written since the previous one"));
        // The run loop stops at every exit: a snapshot every 30 exits falls on each 30th exactly.
        long exits = reader.Events().Count(e => e is VmReplay.Recorder.Events.ExitEvent);
        Assert.Equal(Enumerable.Range(0, (int)(exits / 30) + 1).Select(i => 30L * i), snaps.Select(s => s.ExitCount));
        var info = Vmreplay.Run(["info", trace, "--json"]);
        Assert.Contains($"\"snapshots\": {snaps.Count}", info.Stdout);
    }

    /// <summary>Copies a trace with snapshot <paramref name="number"/> changed by <paramref name="change"/> (valid CRCs); returns its event index.</summary>
    private static long RewriteSnapshot(string from, string to, int number, Func<Snapshot, Snapshot> change)
    {
        using var reader = TraceReader.Open(from);
        using var writer = new ChunkWriter(File.Create(to));
        int seen = 0;
        long at = -1;
        foreach (var chunk in reader.File.Chunks.Where(c => c.Type != ChunkType.Index))
        {
            var payload = reader.File.ReadPayload(chunk);
            if (chunk.Type == ChunkType.Snapshot && seen++ == number)
            {
                var s = change(SnapshotCodec.Decode(payload, withPages: true));
                at = s.EventIndex;
                payload = SnapshotCodec.Encode(s);
            }
            writer.Write(chunk.Type, payload, chunk.FirstEvent);
        }
        writer.Finish();
        return at;
    }
}
