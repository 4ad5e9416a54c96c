using System.Security.Cryptography;
using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// On the software CPU a replay is bit-exact: every sample guest and the Linux boot, recorded
/// once, replay with --strict (the CLI once, then twenty times in a row in this process) to the
/// same serial output, final registers, RAM and device state, with no tolerance anywhere; and two
/// recordings with the virtual clock are the same trace, which diff says.
/// </summary>
public sealed class ExactReplayTests : IDisposable
{
    private const int Replays = 20;
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-exact-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> SampleGuests => new()
    {
        { "hello", "hello.elf" }, { "hello64", "hello64.elf" }, { "longmode", "longmode.elf" },
        { "bootsector", "bootsector.bin" }, { "timer", "timer.elf" }, { "timer64", "timer64.elf" },
        { "usermode", "usermode.elf" }, { "failing-boot", "failing-boot.elf" }, { "triplefault", "triplefault.elf" },
        { "tscdata", "tscdata.elf" }, { "echo", "echo.elf" }, { "bench-exits", "bench-exits.bin" },
    };

    [Theory, MemberData(nameof(SampleGuests))]
    public void EverySampleGuestReplaysBitExactTwentyTimesInARow(string guest, string file)
    {
        // echo reads serial input: the recording holds it, and each replay must feed it back.
        string input = Path.Combine(_dir, "input.txt");
        File.WriteAllText(input, "first line\nsecond\nquit\n");
        var (trace, recorded) = Record(guest, Vmreplay.Guest(guest, file), "--serial-in", guest == "echo" ? input : "/dev/null");
        AssertReplaysExactly(trace, recorded);
    }

    [Fact]
    public void LinuxWithoutAnyTscWorkaroundReplaysBitExactAndTwoRecordingsAreTheSameTrace()
    {
        _ = new LinuxKernel();
        // No clearcpuid=4 and no lpj=: the kernel calibrates its TSC against the PIT and its
        // delay loop against the timer, and every TSC value comes from the instruction count.
        const string cmdline = "console=ttyS0 earlyprintk=serial,ttyS0 nolapic panic=-1";
        var (a, recorded) = Record("linux-a", Vmreplay.Guest("linux", "vmlinux"), "--cmdline", cmdline, "--serial-in", "/dev/null");
        Assert.Contains("tsc: Detected", recorded.Stdout);
        Assert.Contains("Kernel panic - not syncing: No working init found.", recorded.Stdout);
        var (b, _) = Record("linux-b", Vmreplay.Guest("linux", "vmlinux"), "--cmdline", cmdline, "--serial-in", "/dev/null");
        Assert.True(File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b)), "two recordings of the boot differ");
        var diff = Vmreplay.Run(["diff", a, b], timeoutSeconds: 300);
        Assert.Equal(0, diff.ExitCode);
        Assert.Matches(@"^identical: \d+ events \(virtual clock: every exit at the same instruction count\)\n$", diff.Stdout);
        AssertReplaysExactly(a, recorded);
    }

    [Fact]
    public void APollingLoopIsRecordedAsRepeatedExitsAndTwoRecordingsOfItAreTheSameTrace()
    {
        // bench-exits writes one port 200,000 times from one loop: the trace repeats the exit
        // (event kind 10) instead of writing it again, and every repetition is still an event.
        var (a, recorded) = Record("bench-a", Vmreplay.Guest("bench-exits", "bench-exits.bin"));
        var (b, _) = Record("bench-b", Vmreplay.Guest("bench-exits", "bench-exits.bin"));
        long events;
        using (var reader = TraceReader.Open(a))
        {
            var summary = TraceSummary.Of(reader);
            events = summary.Events;
            Assert.Equal(200_001, reader.Events().Count(e => e is ExitEvent { Address: 0x80 or 0xf4 }));
            long eventBytes = reader.EventChunks.Sum(c => (long)c.PayloadLength);
            Assert.True(eventBytes * 4 < summary.Events, $"{eventBytes} bytes of event chunks for {summary.Events} events");
        }
        Assert.True(File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b)), "two recordings of bench-exits differ");
        var diff = Vmreplay.Run(["diff", a, b]);
        Assert.Equal((0, $"identical: {events} events (virtual clock: every exit at the same instruction count)\n"), (diff.ExitCode, diff.Stdout));
    }

    [Fact]
    public void RecordingsWithDifferentInputDifferAtTheFirstInputNamedWithItsInstructionCount()
    {
        string inputA = Path.Combine(_dir, "a.txt"), inputB = Path.Combine(_dir, "b.txt");
        File.WriteAllText(inputA, "same start\nthen A\nquit\n");
        File.WriteAllText(inputB, "same start\nthen B\nquit\n");
        var (a, _) = Record("echo-a", Vmreplay.Guest("echo", "echo.elf"), "--serial-in", inputA);
        var (b, _) = Record("echo-b", Vmreplay.Guest("echo", "echo.elf"), "--serial-in", inputB);
        var diff = Vmreplay.Run(["diff", a, b]);
        Assert.True(diff.ExitCode == 1, diff.Stdout + diff.Stderr);
        // Input is taken at the VMM's service points: the event has no count of its own, the
        // exit before it places it.
        var at = System.Text.RegularExpressions.Regex.Match(diff.Stdout, @"^first difference at event (\d+) \(after instruction (\d+)\):\n(?:    \d+: .*\n)*?    \d+: exit Io in port 03fd size 1 count 1 data 61 at RIP [0-9a-f]+ \(instruction \2\)\n  A \1: serial input byte 41\n  B \1: serial input byte 42\n");
        Assert.True(at.Success, diff.Stdout);
        Assert.Contains("kind: input - the recordings got different input at event ", diff.Stdout);
    }

    private (string Trace, Vmreplay.Result Recorded) Record(string name, string image, params string[] options)
    {
        string trace = Path.Combine(_dir, name + ".vmtrace");
        var r = Vmreplay.Run(["record", image, "-o", trace, .. options], timeoutSeconds: 300, cpu: "soft");
        Assert.True(File.Exists(trace) && r.Stderr.Contains("vmreplay: recorded "), $"recording {name} exited {r.ExitCode}: {r.Stderr}");
        Assert.StartsWith("soft", r.Cpu);
        return (trace, r);
    }

    private static void AssertReplaysExactly(string trace, Vmreplay.Result recorded)
    {
        var cli = Vmreplay.Run(["replay", trace, "--strict"], timeoutSeconds: 300, cpu: "soft");
        Assert.True(cli.ExitCode == recorded.ExitCode, cli.Stderr);
        Assert.Equal(recorded.Stdout, cli.Stdout);
        Assert.Matches(@"replay matched \d+ events", cli.Stderr);
        Assert.DoesNotContain("differed", cli.Stderr);

        using var reader = TraceReader.Open(trace);
        var end = reader.Events().OfType<EndEvent>().Single();
        FinalMachine? first = null;
        for (int i = 0; i < Replays; i++)
        {
            var run = ReplayInProcess(reader);
            Assert.Equal(recorded.Stdout, run.Serial);
            Assert.Equal((end.Kind, end.ExitStatus), (run.Outcome.Kind, run.Outcome.ExitStatus));
            Assert.Equal((end.RegisterHash, end.MemoryHash), run.Hashes);
            if (first is null) first = run;
            else
            {
                Assert.Equal(first.Registers, run.Registers);
                Assert.Equal(first.Memory, run.Memory);
                Assert.Equal(first.Devices, run.Devices);
                Assert.Equal(first.Instructions, run.Instructions);
            }
        }
    }

    private sealed record FinalMachine(Engine.Run.RunOutcome Outcome, string Serial, byte[] Registers, string Memory, string Devices, long? Instructions, (ulong, ulong) Hashes);

    private static FinalMachine ReplayInProcess(TraceReader trace)
    {
        var serial = new MemoryStream();
        using var session = ReplaySession.Open(trace, "/dev/kvm", serial, CpuBackendChoice.Soft);
        session.Differences.Strict = true;
        var outcome = session.RunToEnd();
        var machine = session.Machine;
        var state = machine.CaptureState();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in machine.Memory.Regions)
            for (ulong at = 0; at < r.Size; at += 1 << 20)
                sha.AppendData(machine.Memory.GetSpan(r.GuestBase + at, (int)Math.Min(1UL << 20, r.Size - at)));
        string devices = string.Join("\n", SnapshotCodec.DeviceStates(state.Platform).Select(d => $"{d.Name}: {d.Json}"));
        return new FinalMachine(outcome, System.Text.Encoding.UTF8.GetString(serial.ToArray()), VcpuStateCodec.Encode(state.Vcpu),
            Convert.ToHexString(sha.GetHashAndReset()), devices, machine.Vcpu.InstructionsRetired, FinalState.Hash(machine.Backend, trace.Version));
    }
}
