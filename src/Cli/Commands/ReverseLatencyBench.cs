using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;

namespace VmReplay.Cli.Commands;

/// <summary>
/// Part of <c>vmreplay bench debug</c>: reverse-stepi and reverse-continue latency on the software
/// CPU at two trace lengths, about a million and about a hundred million instructions (the
/// `ticks` guest with n=10 and n=1000, default snapshots), timed inside the real gdb. On the
/// software CPU a reverse step restores the snapshot before it and runs to its instruction count,
/// so its latency should not grow with the trace; a reverse-continue scans back snapshot by
/// snapshot to its hit, so it grows with the distance to the hit, which the last measure shows
/// at its worst (a variable written once, at the start).
/// </summary>
internal static partial class ReverseLatencyBench
{
    private const int Steps = 20;

    /// <summary>A recorded trace of the `ticks` guest and what it holds.</summary>
    public sealed record TicksTrace(string Name, string Path, long Instructions, int Snapshots);

    /// <summary>Records `ticks` with n=<paramref name="ticks"/> on the software CPU into <paramref name="dir"/>.</summary>
    public static TicksTrace Record(string self, string dir, int ticks, string name)
    {
        string elf = Elf;
        string trace = System.IO.Path.Combine(dir, $"ticks-{ticks}.vmtrace");
        var psi = SelfProcess.StartInfo(self, ["record", "--cpu", "soft", elf, "--cmdline", $"n={ticks}", "-o", trace, "--serial-in", "/dev/null"]);
        using var p = Process.Start(psi) ?? throw new UserError($"cannot start {self}");
        p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (!File.Exists(trace)) throw new UserError($"recording ticks n={ticks} failed (status {p.ExitCode}): {error.Trim()}");
        using var reader = Recorder.TraceReader.Open(trace);
        long instructions = reader.Events().OfType<Recorder.Events.ExitEvent>().Select(e => e.Instructions ?? 0).DefaultIfEmpty().Max();
        return new TicksTrace(name, trace, instructions, reader.Snapshots.Count);
    }

    public static string Elf => RepositoryPaths.Require("guests", "build", "ticks", "ticks.elf");

    /// <summary>Measures every trace <paramref name="rounds"/> times, alternately, and prints the table; returns the medians in milliseconds by trace and measure.</summary>
    public static Dictionary<string, Dictionary<string, double>> Run(string self, IReadOnlyList<TicksTrace> traces, int rounds)
    {
        var figures = traces.ToDictionary(t => t.Name, _ => new Dictionary<string, List<double>>());
        for (int i = 0; i < rounds; i++)
            foreach (var t in traces)
                GdbBenchSession.AddMilliseconds(figures[t.Name], Session(self, t));
        var measures = figures[traces[0].Name].Keys.ToList();
        var table = new Table().Title(Inv($"reverse debugging on the software CPU (ticks guest, snapshots every 50 ms of guest time), {rounds} alternating rounds; milliseconds inside gdb (min / median / max)"))
            .AddColumns(["measure", .. traces.Select(t => Inv($"{t.Name}: {t.Instructions:N0} instructions, {t.Snapshots} snapshots"))]);
        foreach (var m in measures) table.AddRow([m, .. traces.Select(t => GdbBenchSession.MinMedianMax(figures[t.Name][m]))]);
        AnsiConsole.Write(table);
        return figures.ToDictionary(f => f.Key, f => f.Value.ToDictionary(m => m.Key, m => BenchCommand.Median(m.Value)));
    }

    public const string ReverseStepi = "reverse-stepi at the end (mean of 20)";
    public const string ReverseContinue = "reverse-continue to the last tick handler";

    private static List<(string Measure, double Seconds)> Session(string self, TicksTrace trace)
    {
        var commands = new List<string> { "break debug_exit" };
        commands.AddRange(GdbBenchSession.Timed("continue over the whole trace", ["continue"]));
        commands.Add("delete");
        commands.AddRange(GdbBenchSession.Timed(ReverseStepi, Enumerable.Repeat("reverse-stepi", Steps), Steps));
        commands.AddRange(GdbBenchSession.Timed($"stepi (mean of {Steps})", Enumerable.Repeat("stepi", Steps), Steps));
        commands.Add("break irq0_handler");
        commands.AddRange(GdbBenchSession.Timed(ReverseContinue, ["reverse-continue"]));
        commands.AddRange(GdbBenchSession.Timed("reverse-continue to the tick before", ["reverse-continue"]));
        commands.Add("delete");
        commands.AddRange(GdbBenchSession.Timed("reverse-stepi mid-trace (mean of 20)", Enumerable.Repeat("reverse-stepi", Steps), Steps));
        commands.Add("watch *(int*)&ticks");
        commands.AddRange(GdbBenchSession.Timed("reverse-continue to the last write of ticks (watch)", ["reverse-continue"]));
        commands.Add("delete");
        commands.Add("watch *(int*)&limit");
        commands.AddRange(GdbBenchSession.Timed("reverse-continue to the one write of limit, at the start (watch)", ["reverse-continue"]));
        var result = GdbBenchSession.Run(self, Elf, trace.Path, commands, TimeSpan.FromMinutes(10));
        var found = GdbBenchSession.Figures(result.Gdb);
        if (result.TimedOut || found.Count != 8 || WatchStops().Matches(result.Gdb).Count != 2 || !result.Gdb.Contains("Breakpoint 2, irq0_handler"))
            throw new UserError($"the gdb session on {trace.Name} did not go as expected{(result.TimedOut ? " (it timed out)" : "")}:\n{result.Gdb}\n{result.Stub}");
        return found;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Hardware watchpoint \d+: \*\(int\*\)&(ticks|limit)\s+Old value")]
    private static partial Regex WatchStops();
}
