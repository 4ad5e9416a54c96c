using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Native;
using VmReplay.Engine.Run;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench record</c>: what recording and replaying cost, measured side by side in one
/// run (alternating rounds, so a noisy shared machine affects all sides alike).
/// </summary>
internal static class RecordReplayBench
{
    private const ulong SixtyFourMiB = 64UL << 20;

    public static int Run(int rounds, CpuBackendChoice cpu)
    {
        string cpuName = cpu.Name();
        string guest = RepositoryPaths.Require("guests", "build", "bench-exits", "bench-exits.bin");
        string dir = Directory.CreateTempSubdirectory("vmreplay-bench-").FullName;
        try
        {
            string trace = Path.Combine(dir, "bench.vmtrace");
            string self = SelfProcess.Location;
            var (runTimes, recordTimes, replayTimes) = TimeRounds(self, rounds, "the bench guest", status => status == 1,
                ["run", guest, "--serial-in", "/dev/null", "--cpu", cpuName],
                ["record", guest, "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "20000", "--cpu", cpuName],
                ["replay", trace, "--cpu", cpuName]);
            var (run, record, replay) = (runTimes.Total, recordTimes.Total, replayTimes.Total);
            long events, eventBytes, fileBytes;
            int snapshots;
            using (var reader = TraceReader.Open(trace))
            {
                (events, eventBytes) = EventChunkBytes(reader);
                fileBytes = reader.File.FileLength;
                snapshots = reader.Snapshots.Count;
            }
            var snap = SnapshotCost(File.ReadAllBytes(guest), guest, cpu);
            var seek = SeekCost(trace, cpu);

            var t = new Table().Title($"record/replay costs, bench-exits guest (200,000 port writes), --cpu {cpuName}, {rounds} alternating rounds; whole commands, seconds (min / median / max)")
                .AddColumns("measure", "figure");
            t.AddRow("run", BenchCommand.Format(run));
            t.AddRow("record (snapshot every 20,000 exits)", BenchCommand.Format(record));
            t.AddRow("replay (verifying every snapshot)", BenchCommand.Format(replay));
            t.AddRow("record / run", Ratio(record, run));
            t.AddRow("replay / record", Ratio(replay, record));
            t.AddRow("trace", Inv($"{fileBytes:N0} bytes; {events:N0} events in {eventBytes:N0} bytes of event chunks = {(double)eventBytes / events:F3} bytes/event; {snapshots} snapshots"));
            t.AddRow("full snapshot of 64 MiB (every page in use, repetitive text)", Inv($"capture {snap.CaptureMs:F1} ms on the vCPU thread; copy (where the vCPU thread did not), hash + LZ4 {snap.EncodeMs:F1} ms on the writer; {snap.Bytes / 1048576.0:F2} MiB written"));
            t.AddRow("restore of that snapshot", Inv($"{snap.RestoreMs:F1} ms (decode, verify, write pages)"));
            t.AddRow("seek to a random event (restore + replay forward)", Inv($"{seek.SeekMs.Min():F1} / {BenchCommand.Median(seek.SeekMs):F1} / {seek.SeekMs.Max():F1} ms over {seek.SeekMs.Count} seeks"));
            t.AddRow("straight replay to the same events", Inv($"{BenchCommand.Median(seek.StraightMs):F1} ms median"));
            AnsiConsole.Write(t);
            Console.WriteLine(Inv($"run_s={BenchCommand.Median(run):F3} record_s={BenchCommand.Median(record):F3} replay_s={BenchCommand.Median(replay):F3} record_over_run={BenchCommand.Median(record) / BenchCommand.Median(run):F2} replay_over_record={BenchCommand.Median(replay) / BenchCommand.Median(record):F2} bytes_per_event={(double)eventBytes / events:F3} snapshot64_capture_ms={snap.CaptureMs:F1} snapshot64_encode_ms={snap.EncodeMs:F1} snapshot64_bytes={snap.Bytes} snapshot64_restore_ms={snap.RestoreMs:F1} seek_median_ms={BenchCommand.Median(seek.SeekMs):F1} straight_median_ms={BenchCommand.Median(seek.StraightMs):F1}"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Ratio(List<double> a, List<double> b) => Inv($"{BenchCommand.Median(a) / BenchCommand.Median(b):F2}");

    /// <summary>
    /// Times <paramref name="run"/>, <paramref name="record"/> and <paramref name="replay"/> (each
    /// a vmreplay command line) in turn, <paramref name="rounds"/> times: a noisy shared host then
    /// moves all three alike. Every other round runs them in the reverse order (the replay first,
    /// of the trace the round before recorded), so that no command always comes right after the
    /// same other one. Each command's times over the rounds.
    /// </summary>
    internal static (CommandTimes Run, CommandTimes Record, CommandTimes Replay) TimeRounds(
        string dll, int rounds, string what, Func<int, bool> expected, string[] run, string[] record, string[] replay)
    {
        var times = (Run: new CommandTimes(), Record: new CommandTimes(), Replay: new CommandTimes());
        for (int i = 0; i < rounds; i++)
        {
            if (i % 2 == 0)
            {
                times.Run.Add(Measure(dll, run, what, expected));
                times.Record.Add(Measure(dll, record, what, expected));
                times.Replay.Add(Measure(dll, replay, what, expected));
            }
            else
            {
                times.Replay.Add(Measure(dll, replay, what, expected));
                times.Record.Add(Measure(dll, record, what, expected));
                times.Run.Add(Measure(dll, run, what, expected));
            }
        }
        return times;
    }

    /// <summary>A trace's events and the bytes of its event chunks (their compressed payloads).</summary>
    internal static (long Events, long Bytes) EventChunkBytes(TraceReader reader) =>
        (reader.Events().LongCount(), reader.File.Chunks.Where(c => c.Type == Recorder.Format.ChunkType.Events).Sum(c => (long)c.PayloadLength));

    /// <summary>
    /// The wall time of <c>vmreplay ARGS</c> as a whole process, in seconds; a status that
    /// <paramref name="expected"/> refuses is a failure of the benchmark, named with <paramref name="what"/>.
    /// </summary>
    internal static double Time(string dll, string[] args, string what, Func<int, bool> expected) => Measure(dll, args, what, expected).Total;

    /// <summary>
    /// As <see cref="Time"/>, with the seconds from just before the process started to the
    /// guest's first instruction, as the command's startup stamp says (null if it printed none),
    /// and the CPU seconds the process spent. One child at a time: the CPU time is what the
    /// children waited for meanwhile spent.
    /// </summary>
    internal static CommandTime Measure(string dll, string[] args, string what, Func<int, bool> expected)
    {
        var psi = SelfProcess.StartInfo(dll, args);
        psi.Environment[StartupStamp.Variable] = "1";
        var cpuBefore = ChildProcessCpuTime.Total();
        long start = StartupStamp.NowNanoseconds();
        using var p = Process.Start(psi) ?? throw new UserError($"cannot start {dll}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        stdout.Wait();
        p.WaitForExit();
        long end = StartupStamp.NowNanoseconds();
        if (!expected(p.ExitCode)) throw new UserError($"vmreplay {args[0]} of {what} ended with status {p.ExitCode}: {err.Trim()}");
        return new CommandTime((end - start) / 1e9, StartupStamp.Find(err, start, end) is { } stamp ? (stamp - start) / 1e9 : null,
            (ChildProcessCpuTime.Total() - cpuBefore).TotalSeconds);
    }

    /// <summary>A full snapshot of 64 MiB of RAM with every page in use (text-like, moderately compressible contents).</summary>
    private static (double CaptureMs, double EncodeMs, long Bytes, double RestoreMs) SnapshotCost(byte[] image, string source, CpuBackendChoice cpu)
    {
        var options = new PcMachineOptions { MemorySize = SixtyFourMiB, SerialOutput = Stream.Null, SerialInputFile = "/dev/null", Cpu = cpu };
        using var pc = PcMachine.Create(options, image, source, new LiveSources("/dev/null"));
        var memory = pc.Memory;
        var line = "vmreplay bench page 0000000000 the quick brown fox jumps over the lazy dog\n"u8.ToArray();
        for (ulong at = 0; at < SixtyFourMiB; at += GuestMemory.PageSize)
        {
            var page = memory.GetSpan(at, (int)GuestMemory.PageSize);
            for (int o = 0; o < page.Length; o += line.Length)
                line.AsSpan(0, Math.Min(line.Length, page.Length - o)).CopyTo(page[o..]);
            BitConverter.TryWriteBytes(page, at);
        }
        // As a recording takes one (SnapshotRecorder): the pages are found on the vCPU thread and,
        // where the backend sees every write, copied by the writer.
        var sw = Stopwatch.StartNew();
        var pages = memory.NonZeroPages().ToArray();
        var lazy = pc.Backend.CopyPagesLazily(pages);
        var copied = lazy is null ? Snapshot.CopyPages(memory, pages) : null;
        var state = pc.CaptureState();
        double capture = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        var data = copied ?? lazy!.Complete();
        var snapshot = new Snapshot(SnapshotKind.Full, 0, 0, 0, PageSetHash.Of(pages, data, TraceFormat.PageHashOf(TraceFormat.Version)), state, [], pages, data);
        var payload = SnapshotCodec.Encode(snapshot);
        double encode = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        var back = SnapshotCodec.Decode(payload, withPages: true);
        memory.Clear();
        back.RestorePages(memory);
        pc.RestoreState(back.Machine);
        double restore = sw.Elapsed.TotalMilliseconds;
        return (capture, encode, payload.Length, restore);
    }

    /// <summary>Seeks to random events with snapshots, and the same events by a straight replay from the start.</summary>
    private static (List<double> SeekMs, List<double> StraightMs) SeekCost(string trace, CpuBackendChoice cpu)
    {
        using var reader = TraceReader.Open(trace);
        long events = reader.Events().LongCount();
        var random = new Random(42);
        var targets = Enumerable.Range(0, 8).Select(_ => random.NextInt64(events / 10, events * 9 / 10)).ToList();
        var seek = new List<double>();
        var straight = new List<double>();
        using var session = ReplaySession.Open(reader, MachineBackends.DefaultKvmDevice, Stream.Null, cpu);
        foreach (long e in targets)
        {
            var sw = Stopwatch.StartNew();
            Reach(session.Seek(new ReplayPosition(e, 0)));
            seek.Add(sw.Elapsed.TotalMilliseconds);
        }
        foreach (long e in targets.Take(3))
        {
            using var fresh = ReplaySession.Open(reader, MachineBackends.DefaultKvmDevice, Stream.Null, cpu);
            fresh.UseSnapshots = false;
            var sw = Stopwatch.StartNew();
            Reach(fresh.Seek(new ReplayPosition(e, 0)));
            straight.Add(sw.Elapsed.TotalMilliseconds);
        }
        return (seek, straight);
    }

    // The targets lie inside the recording: its end before one is a bug, not a measurement.
    private static void Reach(RunStop seek)
    {
        if (seek.End is { } end) throw new InvalidOperationException($"bench record: {end.Message}");
    }
}
