using System.Globalization;
using Spectre.Console;
using VmReplay.Recorder;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench time-travel</c>: the figures exact time travel on the software CPU is judged
/// by, measured in one run and printed beside their targets: run vs record vs replay of the
/// exit-heavy guest and of the Linux boot (whole commands, alternating rounds), trace bytes per
/// event, and reverse-stepi and reverse-continue latency in the real gdb on a 1M- and a
/// 100M-instruction trace. A figure is compared with its target by its median; nothing is asserted.
/// </summary>
internal static class TimeTravelBench
{
    // What the targets are (record/run, replay/record, reverse-stepi).
    private const double RecordOverRunTarget = 1.05, ReplayOverRecordTarget = 1.0, ReverseStepiTargetMs = 100;

    // Workarounds the Linux command line carries for KVM on a paravirtual host, which the software
    // CPU needs none of (guests/linux/README.md): the boot is recorded without them.
    private static readonly string[] KvmOnlyParameters = ["clearcpuid=", "lpj=", "noxsave", "nofsgsbase"];

    public static int Run(int rounds)
    {
        string self = SelfProcess.Location;
        string exitsGuest = RepositoryPaths.Require("guests", "build", "bench-exits", "bench-exits.bin");
        string dir = Directory.CreateTempSubdirectory("vmreplay-bench-").FullName;
        try
        {
            var t = new Table().Title(Inv($"exact time travel on the software CPU, {rounds} alternating rounds; whole commands in seconds, gdb latency in milliseconds (min / median / max)"))
                .AddColumns("measure", "figure", "target", "met");
            var keys = new List<string>();

            string exitsTrace = Path.Combine(dir, "bench-exits.vmtrace");
            // Three times the rounds: each command takes a fifth of a second, and with five rounds
            // the medians' ratios below moved by 0.05 to 0.08 from one run of this bench to the
            // next on a shared host (record/run 1.09x and 1.17x at two builds that differ in
            // nothing this guest runs).
            var exits = RecordReplayBench.TimeRounds(self, ExitHeavyRounds(rounds), "the exit-heavy guest", status => status == 1,
                ["run", "--cpu", "soft", exitsGuest, "--serial-in", "/dev/null"],
                ["record", "--cpu", "soft", exitsGuest, "-o", exitsTrace, "--serial-in", "/dev/null", "--snapshot-every", "20000"],
                ["replay", "--strict", exitsTrace]);
            AddCommands(t, keys, Inv($"exit-heavy guest (bench-exits, 200,000 port writes; {ExitHeavyRounds(rounds)} rounds)"), "exits", exits);
            double bytesPerEvent = BytesPerEvent(exitsTrace);
            t.AddRow("trace bytes per event (event chunks, bench-exits)", Inv($"{bytesPerEvent:F3}"), "", "");
            keys.Add(Inv($"bytes_per_event={bytesPerEvent:F3}"));

            if (LinuxBoot() is { } linux)
            {
                string linuxTrace = Path.Combine(dir, "linux.vmtrace");
                // Untimed first: the recording embeds the image compressed, which the first one
                // does (0.1-0.2 s for vmlinux) and the image cache then spares every later one.
                RecordReplayBench.Time(self, ["record", "--cpu", "soft", linux.Image, "--cmdline", linux.Cmdline, "-o", linuxTrace, "--serial-in", "/dev/null"], "the Linux boot", LinuxStatus);
                var boot = RecordReplayBench.TimeRounds(self, rounds, "the Linux boot", LinuxStatus,
                    ["run", "--cpu", "soft", linux.Image, "--cmdline", linux.Cmdline, "--serial-in", "/dev/null"],
                    ["record", "--cpu", "soft", linux.Image, "--cmdline", linux.Cmdline, "-o", linuxTrace, "--serial-in", "/dev/null"],
                    ["replay", "--strict", linuxTrace]);
                AddCommands(t, keys, "Linux boot to its panic (vmlinux, image cache warm)", "linux", boot);
            }
            else
            {
                t.AddRow("Linux boot", "not measured: guests/build/linux/vmlinux is not built (guests/linux/build.sh)", "", "");
                keys.Add("linux=not_built");
            }

            var short_ = ReverseLatencyBench.Record(self, dir, 10, "ticks n=10");
            var long_ = ReverseLatencyBench.Record(self, dir, 1000, "ticks n=1000");
            var gdb = ReverseLatencyBench.Run(self, [short_, long_], rounds);
            foreach (var (trace, key) in new[] { (short_, "1m"), (long_, "100m") })
            {
                double stepi = gdb[trace.Name][ReverseLatencyBench.ReverseStepi], cont = gdb[trace.Name][ReverseLatencyBench.ReverseContinue];
                string length = Inv($"{trace.Instructions:N0}-instruction trace");
                t.AddRow($"reverse-stepi, {length} (median)", Inv($"{stepi:F1} ms"), Inv($"< {ReverseStepiTargetMs:F0} ms"), Met(stepi < ReverseStepiTargetMs));
                t.AddRow($"reverse-continue, {length} (median)", Inv($"{cont:F1} ms"), "", "");
                keys.Add(Inv($"reverse_stepi_ms_{key}={stepi:F1} reverse_continue_ms_{key}={cont:F1}"));
            }
            AnsiConsole.Write(t);
            Console.WriteLine(string.Join(' ', keys));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int ExitHeavyRounds(int rounds) => 3 * rounds;

    // The kernel resets the machine after its panic; a VMM error (3) or a divergence (4) is a failure.
    internal static bool LinuxStatus(int status) => status is not (Program.VmmErrorStatus or 4);

    private static void AddCommands(Table t, List<string> keys, string guest, string key, (CommandTimes Run, CommandTimes Record, CommandTimes Replay) times)
    {
        var c = (Run: times.Run.Total, Record: times.Record.Total, Replay: times.Replay.Total);
        // What all of each command's threads spent: on a host whose two cores slow each other,
        // work on a second thread lengthens the first one's too. (Its keys come first: each
        // guest's keys keep the order scripts have read since before they were added.)
        double runCpu = BenchCommand.Median(times.Run.Cpu), recordCpu = BenchCommand.Median(times.Record.Cpu), replayCpu = BenchCommand.Median(times.Replay.Cpu);
        keys.Add(Inv($"{key}_cpu_run_s={runCpu:F3} {key}_cpu_record_s={recordCpu:F3} {key}_cpu_replay_s={replayCpu:F3}"));
        double run = BenchCommand.Median(c.Run), record = BenchCommand.Median(c.Record), replay = BenchCommand.Median(c.Replay);
        t.AddRow($"{guest}: run", BenchCommand.Format(c.Run), "", "");
        t.AddRow($"{guest}: record", BenchCommand.Format(c.Record), "", "");
        t.AddRow($"{guest}: replay --strict", BenchCommand.Format(c.Replay), "", "");
        // Where the gaps are: before the guest's first instruction (process and runtime start,
        // the command's setup) or after it (the guest's run, the end).
        if (times.Run.Start.Count == times.Run.Total.Count && times.Record.Start.Count == times.Record.Total.Count && times.Replay.Start.Count == times.Replay.Total.Count)
        {
            double runStart = BenchCommand.Median(times.Run.Start), recordStart = BenchCommand.Median(times.Record.Start), replayStart = BenchCommand.Median(times.Replay.Start);
            t.AddRow($"{guest}: to the guest's first instruction, run / record / replay (medians)", Inv($"{runStart:F3} / {recordStart:F3} / {replayStart:F3}"), "", "");
            t.AddRow($"{guest}: from it to the end, run / record / replay (medians)",
                Inv($"{MedianAfterStart(times.Run):F3} / {MedianAfterStart(times.Record):F3} / {MedianAfterStart(times.Replay):F3}"), "", "");
            keys.Add(Inv($"{key}_start_run_s={runStart:F3} {key}_start_record_s={recordStart:F3} {key}_start_replay_s={replayStart:F3}"));
        }
        t.AddRow($"{guest}: CPU time (user + system), run / record / replay (medians)", Inv($"{runCpu:F3} / {recordCpu:F3} / {replayCpu:F3}"), "", "");
        t.AddRow($"{guest}: record / run (medians)", Inv($"{record / run:F2}x"), Inv($"<= {RecordOverRunTarget:F2}x"), Met(record / run <= RecordOverRunTarget));
        t.AddRow($"{guest}: replay / record (medians)", Inv($"{replay / record:F2}x"), Inv($"<= {ReplayOverRecordTarget:F2}x"), Met(replay / record <= ReplayOverRecordTarget));
        keys.Add(Inv($"{key}_run_s={run:F3} {key}_record_s={record:F3} {key}_replay_s={replay:F3} {key}_record_over_run={record / run:F2} {key}_replay_over_record={replay / record:F2}"));
    }

    private static double BytesPerEvent(string trace)
    {
        using var reader = TraceReader.Open(trace);
        var (events, bytes) = RecordReplayBench.EventChunkBytes(reader);
        return (double)bytes / events;
    }

    // The built kernel and its command line for the software CPU, or null when it is not built.
    internal static (string Image, string Cmdline)? LinuxBoot()
    {
        if (RepositoryPaths.Root() is not { } root) return null;
        string image = Path.Combine(root, "guests", "build", "linux", "vmlinux"), cmdline = Path.Combine(root, "guests", "linux", "cmdline");
        if (!File.Exists(image) || !File.Exists(cmdline)) return null;
        var parameters = File.ReadAllText(cmdline).Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !KvmOnlyParameters.Any(k => k.EndsWith('=') ? p.StartsWith(k, StringComparison.Ordinal) : p == k));
        return (image, string.Join(' ', parameters));
    }

    // The median of each round's time after the guest's first instruction.
    private static double MedianAfterStart(CommandTimes c) => BenchCommand.Median(c.Total.Zip(c.Start, (total, start) => total - start).ToList());

    private static string Met(bool met) => met ? "yes" : "[red]no[/]";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
