using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VmReplay.Cli.Commands;

/// <summary>
/// Part of <c>vmreplay bench debug</c>: scripted reverse-debugging sessions on the software CPU,
/// each a fresh stub and gdb with its own seeded mix of continue, reverse-stepi, stepi,
/// reverse-continue to breakpoints and watchpoints, `monitor goto` to a random instruction count
/// and back, under a deadline. A session that misses it is a hang (both processes are killed); one
/// where the stub reports a failed motion or the connection drops is a failure. QEMU's
/// reverse-continue deadlocked in 17 of 36 tries on this kind of machine: this counts ours.
/// </summary>
internal static partial class ReverseSessionsBench
{
    public sealed record Outcome(int Sessions, int Hangs, int Failures, List<double> Seconds, string? FirstFailure);

    public static Outcome Run(string self, ReverseLatencyBench.TicksTrace trace, int sessions, TimeSpan deadline)
    {
        int hangs = 0, failures = 0;
        string? first = null;
        var seconds = new List<double>();
        for (int i = 0; i < sessions; i++)
        {
            var random = new Random(1000 + i);
            var clock = Stopwatch.StartNew();
            var result = GdbBenchSession.Run(self, ReverseLatencyBench.Elf, trace.Path, Script(random, trace.Instructions), deadline);
            seconds.Add(clock.Elapsed.TotalSeconds);
            string? failure = result.TimedOut ? "timed out" : Failure(result);
            if (result.TimedOut) hangs++;
            else if (failure is not null) failures++;
            if (failure is not null) first ??= $"session {i}: {failure}\n{result.Gdb}\n{result.Stub}";
        }
        return new Outcome(sessions, hangs, failures, seconds, first);
    }

    // A session's script: forward to some tick, back and forth by steps, back to breakpoints and
    // watchpoints, a random jump and back again.
    private static List<string> Script(Random random, long instructions)
    {
        var c = new List<string> { "break irq0_handler" };
        c.AddRange(Enumerable.Repeat("continue", random.Next(1, 8)));
        c.Add("delete");
        c.AddRange(Enumerable.Repeat("reverse-stepi", random.Next(1, 40)));
        c.AddRange(Enumerable.Repeat("stepi", random.Next(1, 20)));
        c.AddRange(["watch *(int*)&ticks", "reverse-continue", "reverse-continue", "continue", "delete"]);
        c.Add($"monitor goto {random.NextInt64(1, Math.Max(2, instructions))}");
        c.Add("flushregs");
        c.AddRange(Enumerable.Repeat("reverse-stepi", random.Next(1, 10)));
        c.AddRange(["break poll", "reverse-continue", "continue", "delete"]);
        c.AddRange(["rwatch *(int*)&ticks", "reverse-continue", "continue", "delete"]);
        c.AddRange(["awatch *(int*)&limit", "reverse-continue", "continue"]);
        c.Add("monitor when");
        return c;
    }

    // What the stub and gdb say when a motion failed: the stub's own line on gdb's console, a
    // dropped connection, a monitor command refused.
    private static string? Failure(GdbBenchSession.Result result)
    {
        foreach (var sign in new[] { "stopped here:", "Remote connection closed", "Remote communication error", "monitor goto:", "unhandled exception" })
            if (result.Gdb.Contains(sign, StringComparison.OrdinalIgnoreCase) || result.Stub.Contains(sign, StringComparison.OrdinalIgnoreCase))
                return $"'{sign}'";
        if (!When().IsMatch(result.Gdb)) return "no final position (monitor when)";
        return null;
    }

    [GeneratedRegex(@"at instruction \d+")]
    private static partial Regex When();

    public static string Summary(Outcome o) => string.Create(CultureInfo.InvariantCulture,
        $"{o.Sessions} scripted reverse sessions on the software CPU: {o.Hangs} hangs, {o.Failures} failures; {o.Seconds.Sum():F0} s in all, median {BenchCommand.Median(o.Seconds):F2} s a session (stub and gdb start included), slowest {o.Seconds.Max():F2} s");
}
