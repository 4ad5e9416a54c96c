using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace VmReplay.Cli.Commands;

/// <summary>
/// One scripted gdb session for the debug benchmarks: `vmreplay replay --gdb --gdb-once` on a
/// trace and the real gdb (-batch -nx) running the given commands against it, with a deadline.
/// Commands are timed inside gdb by <see cref="Timed"/>: its Python clock around them, printed as
/// BENCH lines that <see cref="Figures"/> reads back.
/// </summary>
internal static partial class GdbBenchSession
{
    /// <summary>What a session printed, and whether it missed its deadline (a hang: both processes were killed).</summary>
    public sealed record Result(string Gdb, string Stub, bool TimedOut);

    /// <summary>The commands that time <paramref name="run"/> (per <paramref name="per"/> repetitions) as <paramref name="measure"/>.</summary>
    public static IEnumerable<string> Timed(string measure, IEnumerable<string> run, int per = 1) =>
    [
        "python t0 = time.perf_counter()",
        .. run,
        $"python print('BENCH {measure}|%.6f' % ((time.perf_counter() - t0) / {per}))",
    ];

    /// <summary>Adds a session's measures to <paramref name="into"/>, in milliseconds, each measure's rounds in one list.</summary>
    public static void AddMilliseconds(Dictionary<string, List<double>> into, IEnumerable<(string Measure, double Seconds)> session)
    {
        foreach (var (measure, seconds) in session)
        {
            if (!into.TryGetValue(measure, out var list)) into[measure] = list = new();
            list.Add(seconds * 1000);
        }
    }

    /// <summary>Rounds of one measure as a table shows them: min / median / max.</summary>
    public static string MinMedianMax(List<double> ms) =>
        string.Create(CultureInfo.InvariantCulture, $"{ms.Min():F1} / {BenchCommand.Median(ms):F1} / {ms.Max():F1}");

    /// <summary>The measures a session printed, in seconds.</summary>
    public static List<(string Measure, double Seconds)> Figures(string gdb) =>
        BenchLine().Matches(gdb).Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();

    public static Result Run(string self, string elf, string trace, IEnumerable<string> commands, TimeSpan deadline)
    {
        int port = FreePort();
        var stub = SelfProcess.StartInfo(self, ["replay", trace, "--gdb", port.ToString(CultureInfo.InvariantCulture), "--gdb-once"]);
        using var server = Process.Start(stub) ?? throw new UserError($"cannot start {self}");
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
        if (!ready.Wait(TimeSpan.FromSeconds(60)))
        {
            server.Kill(true);
            throw new UserError($"the gdb stub did not start: {stubLog}");
        }

        var gdb = new ProcessStartInfo("gdb") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-batch", "-nx", elf, "-ex", $"target remote 127.0.0.1:{port}", "-ex", "python import time" }) gdb.ArgumentList.Add(a);
        foreach (var c in commands) { gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add(c); }
        gdb.ArgumentList.Add("-ex");
        gdb.ArgumentList.Add("kill");
        Process g;
        try { g = Process.Start(gdb) ?? throw new UserError("cannot start gdb"); }
        catch (System.ComponentModel.Win32Exception e) { throw new UserError($"gdb is needed for this benchmark: {e.Message}"); }
        using (g)
        {
            var output = g.StandardOutput.ReadToEndAsync();
            var errors = g.StandardError.ReadToEndAsync();
            bool finished = g.WaitForExit(deadline);
            if (!finished) g.Kill(true);
            if (!server.WaitForExit(TimeSpan.FromSeconds(finished ? 30 : 0))) server.Kill(true);
            g.WaitForExit();
            lock (stubLog) return new Result(output.Result + errors.Result, stubLog.ToString(), !finished);
        }
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [GeneratedRegex(@"^BENCH (.+)\|([0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex BenchLine();
}
