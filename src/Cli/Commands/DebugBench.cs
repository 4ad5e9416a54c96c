using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Spectre.Console;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench debug</c>: what a gdb user waits for, timed inside the real gdb (its Python
/// clock around each command) against <c>vmreplay replay --gdb</c>: reverse-continue to the
/// failing-boot watchpoint hit across the whole trace, the one before it, reverse-stepi and
/// stepi. The same recording is served with its snapshots and with the initial one only,
/// alternately in one run, which shows what snapshots buy.
/// </summary>
internal static partial class DebugBench
{
    private const int Steps = 20;

    public static int Run(int rounds)
    {
        string elf = RepositoryPaths.Require("guests", "build", "failing-boot", "failing-boot.elf");
        string dir = Directory.CreateTempSubdirectory("vmreplay-bench-").FullName;
        try
        {
            string self = typeof(DebugBench).Assembly.Location;
            string trace = Path.Combine(dir, "failing-boot.vmtrace");
            string sparse = Path.Combine(dir, "failing-boot-initial-snapshot-only.vmtrace");
            Record(self, elf, trace, "50ms");
            Record(self, elf, sparse, "off");
            var sides = new[] { (Name: "snapshots every 50 ms", Trace: trace), (Name: "initial snapshot only", Trace: sparse) };
            var figures = sides.ToDictionary(s => s.Name, _ => new Dictionary<string, List<double>>());
            for (int i = 0; i < rounds; i++)
                foreach (var side in sides)
                    foreach (var (measure, seconds) in Session(self, elf, side.Trace))
                    {
                        if (!figures[side.Name].TryGetValue(measure, out var list)) figures[side.Name][measure] = list = new();
                        list.Add(seconds * 1000);
                    }

            var measures = figures[sides[0].Name].Keys.ToList();
            var t = new Table().Title(Inv($"gdb latency on failing-boot, {rounds} alternating rounds; milliseconds inside gdb (min / median / max)"))
                .AddColumns(["measure", .. sides.Select(s => s.Name)]);
            foreach (var m in measures)
                t.AddRow([m, .. sides.Select(s => Ms(figures[s.Name][m]))]);
            AnsiConsole.Write(t);
            var dense = figures[sides[0].Name];
            var only = figures[sides[1].Name];
            Console.WriteLine(Inv($"reverse_continue_ms={BenchCommand.Median(dense["reverse-continue to the watchpoint hit"]):F1} reverse_continue_again_ms={BenchCommand.Median(dense["reverse-continue again"]):F1} reverse_stepi_ms={BenchCommand.Median(dense[$"reverse-stepi (mean of {Steps})"]):F2} stepi_ms={BenchCommand.Median(dense[$"stepi (mean of {Steps})"]):F2} reverse_continue_initial_snapshot_only_ms={BenchCommand.Median(only["reverse-continue to the watchpoint hit"]):F1}"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Record(string self, string elf, string trace, string snapshotEvery)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { self, "record", elf, "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", snapshotEvery }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new UserError("cannot start dotnet");
        p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (!File.Exists(trace)) throw new UserError($"recording failing-boot failed (status {p.ExitCode}): {error.Trim()}");
    }

    // One gdb session: continue to the panic, watch the corrupted field, then the timed commands.
    private static List<(string Measure, double Seconds)> Session(string self, string elf, string trace)
    {
        int port = FreePort();
        var stub = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { self, "replay", trace, "--gdb", port.ToString(CultureInfo.InvariantCulture), "--gdb-once" }) stub.ArgumentList.Add(a);
        using var server = Process.Start(stub) ?? throw new UserError("cannot start dotnet");
        var ready = new ManualResetEventSlim();
        var stubLog = new System.Text.StringBuilder();
        server.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stubLog) stubLog.AppendLine(e.Data);
            if (e.Data.Contains("waiting for gdb")) ready.Set();
        };
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        if (!ready.Wait(TimeSpan.FromSeconds(60))) throw new UserError($"the gdb stub did not start: {stubLog}");

        var commands = new List<string> { $"target remote 127.0.0.1:{port}", "python import time", "break panic" };
        void Timed(string measure, IEnumerable<string> run, int per = 1)
        {
            commands.Add("python t0 = time.perf_counter()");
            commands.AddRange(run);
            commands.Add($"python print('BENCH {measure}|%.6f' % ((time.perf_counter() - t0) / {per}))");
        }
        Timed("continue to the panic", ["continue"]);
        commands.Add("delete");
        commands.Add("watch boot_info->mmap[1].length");
        Timed("reverse-continue to the watchpoint hit", ["reverse-continue"]);
        Timed("reverse-continue again", ["reverse-continue"]);
        commands.Add("delete");
        Timed($"reverse-stepi (mean of {Steps})", Enumerable.Repeat("reverse-stepi", Steps), Steps);
        Timed($"stepi (mean of {Steps})", Enumerable.Repeat("stepi", Steps), Steps);
        commands.Add("kill");

        var gdb = new ProcessStartInfo("gdb") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-batch", "-nx", elf }) gdb.ArgumentList.Add(a);
        foreach (var c in commands) { gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add(c); }
        string output;
        try
        {
            using var g = Process.Start(gdb) ?? throw new UserError("cannot start gdb");
            var errors = g.StandardError.ReadToEndAsync();
            output = g.StandardOutput.ReadToEnd() + errors.Result;
            g.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception e) { throw new UserError($"gdb is needed for this benchmark: {e.Message}"); }
        if (!server.WaitForExit(TimeSpan.FromSeconds(30))) server.Kill(true);
        var found = BenchLine().Matches(output).Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();
        if (found.Count != 5 || !output.Contains("Old value"))
            throw new UserError($"the gdb session did not go as expected:\n{output}\n{stubLog}");
        return found;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static string Ms(List<double> xs) => Inv($"{xs.Min():F1} / {BenchCommand.Median(xs):F1} / {xs.Max():F1}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^BENCH (.+)\|([0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex BenchLine();
}
