using System.Text.Json;
using VmReplay.Engine.Backend;
using VmReplay.Recorder;
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

    private string Record(string guest, string file, int status)
    {
        string trace = Path.Combine(_dir, $"{guest}.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "20"], cpu: "soft");
        Assert.True(r.ExitCode == status, r.Stderr);
        return trace;
    }

    /// <summary>Everything that makes up the machine at a point: position, registers, RAM, devices, counters, trace position.</summary>
    private static string StateOf(ReplaySession s)
    {
        var (regs, memory) = FinalState.Hash(s.Machine.Backend);
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
        long total;
        using (var end = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft))
        {
            Assert.True(end.CountsInstructions);
            end.RunToEnd();
            total = end.Machine.Vcpu.InstructionsRetired!.Value;
        }
        var random = new Random(4321);
        var targets = Enumerable.Range(0, 12).Select(_ => new InstructionPosition(random.NextInt64(1, total * 9 / 10))).Distinct().ToList();

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
}
