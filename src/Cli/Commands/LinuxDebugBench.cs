using System.Globalization;
using Spectre.Console;
using VmReplay.Recorder;

namespace VmReplay.Cli.Commands;

/// <summary>
/// Reverse debugging on the Linux boot (software CPU, a snapshot every 2 ms of guest time), timed
/// inside the real gdb: continue to the panic, then reverse-continue from there to the one write
/// of <c>panic_timeout</c> (the command line's <c>panic=-1</c>, parsed 7M instructions in) and to
/// <c>start_kernel</c> (run once, at the start). What a debugger of a real kernel waits for, and
/// what passing over the intervals that cannot hold a hit saves there. Part of <c>bench debug</c>,
/// where the kernel is built.
/// </summary>
internal static class LinuxDebugBench
{
    private const string ContinueToPanic = "continue to the panic";
    private const string ToWatchedWrite = "reverse-continue to the write of panic_timeout (watch -l)";
    private const string ToStartKernel = "reverse-continue from there to start_kernel (break)";

    public static void Run(string self, string dir, int rounds)
    {
        if (TimeTravelBench.LinuxBoot() is not { } linux)
        {
            Console.WriteLine("linux_debug=not_built (guests/linux/build.sh builds the kernel)");
            return;
        }
        string trace = Path.Combine(dir, "linux-2ms.vmtrace");
        RecordReplayBench.Time(self, ["record", "--cpu", "soft", linux.Image, "--cmdline", linux.Cmdline, "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "2ms"],
            "the Linux boot", TimeTravelBench.LinuxStatus);
        int snapshots;
        using (var reader = TraceReader.Open(trace)) snapshots = reader.Snapshots.Count;

        var figures = new Dictionary<string, List<double>>();
        for (int i = 0; i < rounds; i++) GdbBenchSession.AddMilliseconds(figures, Session(self, linux.Image, trace));
        var table = new Table().Title(Inv($"reverse debugging on the Linux boot (software CPU, a snapshot every 2 ms of guest time: {snapshots} snapshots), {rounds} rounds; milliseconds inside gdb (min / median / max)"))
            .AddColumns("measure", "figure");
        foreach (var (measure, ms) in figures) table.AddRow(measure, GdbBenchSession.MinMedianMax(ms));
        AnsiConsole.Write(table);
        Console.WriteLine(Inv($"linux_continue_ms={BenchCommand.Median(figures[ContinueToPanic]):F1} linux_reverse_continue_watch_ms={BenchCommand.Median(figures[ToWatchedWrite]):F1} linux_reverse_continue_break_ms={BenchCommand.Median(figures[ToStartKernel]):F1} (snapshots {snapshots})"));
    }

    private static List<(string Measure, double Seconds)> Session(string self, string vmlinux, string trace)
    {
        var commands = new List<string> { "break panic" };
        commands.AddRange(GdbBenchSession.Timed(ContinueToPanic, ["continue"]));
        commands.Add("delete");
        commands.Add("watch -l panic_timeout");
        commands.AddRange(GdbBenchSession.Timed(ToWatchedWrite, ["reverse-continue"]));
        commands.Add("delete");
        commands.Add("break start_kernel");
        commands.AddRange(GdbBenchSession.Timed(ToStartKernel, ["reverse-continue"]));
        var result = GdbBenchSession.Run(self, vmlinux, trace, commands, TimeSpan.FromMinutes(10));
        var found = GdbBenchSession.Figures(result.Gdb);
        if (result.TimedOut || found.Count != 3 || !result.Gdb.Contains("New value = 0") || !result.Gdb.Contains("Breakpoint 3, start_kernel"))
            throw new UserError($"the gdb session on the Linux boot did not go as expected{(result.TimedOut ? " (it timed out)" : "")}:\n{result.Gdb}\n{result.Stub}");
        return found;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
