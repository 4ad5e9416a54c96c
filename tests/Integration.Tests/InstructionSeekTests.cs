using System.Text.Json;
using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// Positions by instruction count on the software CPU: seeking to one, from whatever snapshot is
/// nearest and in any order, lands on exactly the machine a straight replay has there.
/// </summary>
public sealed class InstructionSeekTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-iseek-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string guest, string file, int status, params string[] options)
    {
        string trace = Path.Combine(_dir, $"{guest}.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "20", .. options], cpu: "soft");
        Assert.True(r.ExitCode == status, r.Stderr);
        return trace;
    }

    /// <summary>Everything that makes up the machine at a point: position, registers, RAM, devices, counters, trace position.</summary>
    private static string StateOf(ReplaySession s)
    {
        var (regs, memory) = FinalState.Hash(s.Machine.Backend, TraceFormat.Version);
        var state = s.Machine.CaptureState();
        string devices = JsonSerializer.Serialize(state.Platform, new JsonSerializerOptions { IncludeFields = true });
        return $"{s.At} retired {s.Machine.Vcpu.InstructionsRetired} regs {regs:x16} memory {memory:x16} counters {state.Counters} next event {s.Sources.Events.Position} devices {devices}";
    }

    [Theory]
    [InlineData("timer", "timer.elf", 1)]
    [InlineData("failing-boot", "failing-boot.elf", 3)]
    public void SeekingToRandomInstructionCountsLandsOnTheStateOfAStraightReplay(string guest, string file, int status)
    {
        string trace = Record(guest, file, status);
        using var reader = TraceReader.Open(trace);
        Assert.True(reader.Snapshots.Count > 5, $"only {reader.Snapshots.Count} snapshots");
        long total = reader.Events().OfType<Recorder.Events.ExitEvent>().Max(e => e.Instructions!.Value);
        var random = new Random(4321);
        var targets = Enumerable.Range(0, 12).Select(_ => new InstructionPosition(random.NextInt64(1, total * 9 / 10))).ToList();
        // And positions just after interrupt deliveries (a handler's first instruction, nothing
        // of it run): the counts of some recorded service points, where a run to the end learns
        // how many deliveries each had.
        using (var learn = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft))
        {
            Assert.True(learn.CountsInstructions);
            learn.UseSnapshots = false;
            learn.SeekTo(new InstructionPosition(total - 1));
            var delivered = reader.Events().OfType<Recorder.Events.ScheduledServiceEvent>().Select(e => e.Instructions)
                .Where(n => learn.DeliveriesAt(n) > 0).ToList();
            Assert.True(delivered.Count >= 3, $"{delivered.Count} service points with deliveries");
            targets.AddRange(delivered.OrderBy(_ => random.Next()).Take(4).Select(n => new InstructionPosition(n, learn.DeliveriesAt(n)!.Value)));
        }
        targets = targets.Distinct().ToList();

        // Straight: from the start, forward only, no snapshot restored.
        var straight = new Dictionary<InstructionPosition, string>();
        using (var s = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft))
        {
            s.UseSnapshots = false;
            foreach (var t in targets.Order())
            {
                Assert.Equal(RunStopKind.Reached, s.SeekTo(t).Kind);
                straight[t] = StateOf(s);
            }
            Assert.Equal(0, s.Restores);
        }
        // Seeking: one session, in random order (backwards too), from the nearest snapshot.
        using var seek = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        foreach (var t in targets.OrderBy(_ => random.Next()))
        {
            seek.SeekTo(t);
            string actual = StateOf(seek);
            Assert.True(straight[t] == actual, $"at {t} after {seek.Restores} restores:\nstraight {straight[t]}\nseek     {actual}");
        }
        Assert.True(seek.Restores > 0);
    }


    [Fact]
    public void EveryWriteOfAWatchedValueIsAHitAtItsExactInstruction()
    {
        // ticks counts 30 timer interrupts; the poll loop reads it all the time, the handler
        // increments it once a tick. A run to the end with the value watched sees all 30 writes,
        // each one instruction long: before it the old count, after it the new one.
        string elf = Vmreplay.Guest("ticks", "ticks.elf");
        string trace = Record("ticks", "ticks.elf", 1, "--cmdline", "n=30");
        ulong ticks = ElfSymbols.Address(elf, "ticks");
        using var reader = TraceReader.Open(trace);
        using var s = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        long last = reader.Events().OfType<Recorder.Events.ExitEvent>().Max(e => e.Instructions!.Value);
        s.Watches = [new WatchedRange(ticks, 4, [(ticks, 4)], WatchKind.Write)];
        var hits = s.HitsUntil(new InstructionPosition(last - 1));
        Assert.Equal(30, hits.Count);
        Assert.All(hits, h => Assert.Equal((HitKind.Watch, ticks, h.Before.Instructions + 1), (h.Kind, h.Address, h.At.Instructions)));
        var span = new byte[4];
        for (int i = 0; i < hits.Count; i += 7)
        {
            s.SeekTo(hits[i].Before);
            s.Machine.Memory.Read(ticks, span);
            Assert.Equal((uint)i, BitConverter.ToUInt32(span));
            s.SeekTo(hits[i].At);
            s.Machine.Memory.Read(ticks, span);
            Assert.Equal((uint)i + 1, BitConverter.ToUInt32(span));
        }
        // Read watches see the poll loop's reads too: far more of them, the first right at the start of polling.
        s.Watches = [new WatchedRange(ticks, 4, [(ticks, 4)], WatchKind.Read)];
        s.Restore(0);
        var reads = s.HitsUntil(hits[0].Before);
        Assert.True(reads.Count > 100, $"{reads.Count} reads");
        Assert.All(reads, r => Assert.Equal(HitKind.ReadWatch, r.Kind));
    }
}
