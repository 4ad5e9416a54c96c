using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench debug</c>: what a gdb user waits for, timed inside the real gdb (its Python
/// clock around each command) against <c>vmreplay replay --gdb</c>: reverse-continue to the
/// failing-boot watchpoint hit across the whole trace, the one before it, reverse-stepi and
/// stepi, on the default backend, the same recording served with its snapshots and with the
/// initial one only, alternately in one run, which shows what snapshots buy; then, on the software
/// CPU, reverse-stepi and reverse-continue at two trace lengths (<see cref="ReverseLatencyBench"/>),
/// on the Linux boot (<see cref="LinuxDebugBench"/>) and 100 scripted reverse sessions counting
/// hangs (<see cref="ReverseSessionsBench"/>).
/// </summary>
internal static class DebugBench
{
    private const int Steps = 20;
    private const int Sessions = 100;

    public static int Run(int rounds)
    {
        string elf = RepositoryPaths.Require("guests", "build", "failing-boot", "failing-boot.elf");
        string dir = Directory.CreateTempSubdirectory("vmreplay-bench-").FullName;
        try
        {
            string self = SelfProcess.Location;
            string trace = Path.Combine(dir, "failing-boot.vmtrace");
            string sparse = Path.Combine(dir, "failing-boot-initial-snapshot-only.vmtrace");
            Record(self, elf, trace, "50ms");
            Record(self, elf, sparse, "off");
            var sides = new[] { (Name: "snapshots every 50 ms", Trace: trace), (Name: "initial snapshot only", Trace: sparse) };
            var figures = sides.ToDictionary(s => s.Name, _ => new Dictionary<string, List<double>>());
            for (int i = 0; i < rounds; i++)
                foreach (var side in sides)
                    GdbBenchSession.AddMilliseconds(figures[side.Name], Session(self, elf, side.Trace));

            var measures = figures[sides[0].Name].Keys.ToList();
            var t = new Table().Title(Inv($"gdb latency on failing-boot, {rounds} alternating rounds; milliseconds inside gdb (min / median / max)"))
                .AddColumns(["measure", .. sides.Select(s => s.Name)]);
            foreach (var m in measures)
                t.AddRow([m, .. sides.Select(s => GdbBenchSession.MinMedianMax(figures[s.Name][m]))]);
            AnsiConsole.Write(t);
            var dense = figures[sides[0].Name];
            var only = figures[sides[1].Name];
            Console.WriteLine(Inv($"reverse_continue_ms={BenchCommand.Median(dense["reverse-continue to the watchpoint hit"]):F1} reverse_continue_again_ms={BenchCommand.Median(dense["reverse-continue again"]):F1} reverse_stepi_ms={BenchCommand.Median(dense[$"reverse-stepi (mean of {Steps})"]):F2} stepi_ms={BenchCommand.Median(dense[$"stepi (mean of {Steps})"]):F2} reverse_continue_initial_snapshot_only_ms={BenchCommand.Median(only["reverse-continue to the watchpoint hit"]):F1}"));

            // The software CPU at two trace lengths, then scripted sessions counting hangs.
            var short_ = ReverseLatencyBench.Record(self, dir, 10, "ticks n=10");
            var long_ = ReverseLatencyBench.Record(self, dir, 1000, "ticks n=1000");
            var soft = ReverseLatencyBench.Run(self, [short_, long_], rounds);
            Console.WriteLine(Inv($"soft_reverse_stepi_ms_1m={soft[short_.Name][ReverseLatencyBench.ReverseStepi]:F1} soft_reverse_stepi_ms_100m={soft[long_.Name][ReverseLatencyBench.ReverseStepi]:F1} soft_reverse_continue_ms_1m={soft[short_.Name][ReverseLatencyBench.ReverseContinue]:F1} soft_reverse_continue_ms_100m={soft[long_.Name][ReverseLatencyBench.ReverseContinue]:F1} (instructions {short_.Instructions} and {long_.Instructions})"));
            LinuxDebugBench.Run(self, dir, rounds);
            var sessions = ReverseSessionsBench.Run(self, short_, Sessions, TimeSpan.FromSeconds(60));
            Console.WriteLine(ReverseSessionsBench.Summary(sessions));
            if (sessions.FirstFailure is { } failure) Console.WriteLine($"first failed session: {failure}");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Record(string self, string elf, string trace, string snapshotEvery)
    {
        var psi = SelfProcess.StartInfo(self, ["record", elf, "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", snapshotEvery]);
        using var p = Process.Start(psi) ?? throw new UserError($"cannot start {self}");
        p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (!File.Exists(trace)) throw new UserError($"recording failing-boot failed (status {p.ExitCode}): {error.Trim()}");
    }

    // One gdb session: continue to the panic, watch the corrupted field, then the timed commands.
    private static List<(string Measure, double Seconds)> Session(string self, string elf, string trace)
    {
        var commands = new List<string> { "break panic" };
        commands.AddRange(GdbBenchSession.Timed("continue to the panic", ["continue"]));
        commands.Add("delete");
        commands.Add("watch boot_info->mmap[1].length");
        commands.AddRange(GdbBenchSession.Timed("reverse-continue to the watchpoint hit", ["reverse-continue"]));
        commands.AddRange(GdbBenchSession.Timed("reverse-continue again", ["reverse-continue"]));
        commands.Add("delete");
        commands.AddRange(GdbBenchSession.Timed($"reverse-stepi (mean of {Steps})", Enumerable.Repeat("reverse-stepi", Steps), Steps));
        commands.AddRange(GdbBenchSession.Timed($"stepi (mean of {Steps})", Enumerable.Repeat("stepi", Steps), Steps));
        var result = GdbBenchSession.Run(self, elf, trace, commands, TimeSpan.FromMinutes(10));
        var found = GdbBenchSession.Figures(result.Gdb);
        if (result.TimedOut || found.Count != 5 || !result.Gdb.Contains("Old value"))
            throw new UserError($"the gdb session did not go as expected:\n{result.Gdb}\n{result.Stub}");
        return found;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
