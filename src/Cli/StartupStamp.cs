using System.Diagnostics;

namespace VmReplay.Cli;

/// <summary>
/// With <c>$VMREPLAY_STARTUP_STAMP=1</c>, <c>vmreplay run</c>, <c>vmreplay record</c> and
/// <c>vmreplay replay</c> (run to the end) print <c>vmreplay: startup-stamp NANOSECONDS</c> on
/// stderr just before the guest's first instruction (a replay's: the first after the trace's
/// start state is restored): the host's monotonic clock (<see cref="Stopwatch"/>, CLOCK_MONOTONIC on Linux),
/// which every process on the host reads alike. <c>vmreplay bench cpu</c> reads the clock before
/// it starts the process and takes the difference as the startup cost: process and runtime start,
/// JIT, option parsing, building the machine and loading the guest. With
/// <c>$VMREPLAY_STARTUP_STAMP=epoch</c> the stamp is the real-time clock in nanoseconds since the
/// Unix epoch instead, the clock a shell script has (<c>$EPOCHREALTIME</c>, <c>date +%s%N</c>).
/// </summary>
internal static class StartupStamp
{
    public const string Variable = "VMREPLAY_STARTUP_STAMP";
    public const string Prefix = "vmreplay: startup-stamp ";

    public static long NowNanoseconds() => (long)((Int128)Stopwatch.GetTimestamp() * 1_000_000_000 / Stopwatch.Frequency);

    /// <summary>
    /// The stamp a command printed in <paramref name="stderr"/>, if it printed one that lies
    /// between <paramref name="notBefore"/> and <paramref name="notAfter"/> (the clock read just
    /// before the process started and after it ended); null otherwise.
    /// </summary>
    public static long? Find(string stderr, long notBefore, long notAfter)
    {
        string? line = stderr.Split('\n').FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return line is not null && long.TryParse(line[Prefix.Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture, out long stamp) && stamp >= notBefore && stamp <= notAfter
            ? stamp : null;
    }

    public static void WriteIfAsked()
    {
        switch (Environment.GetEnvironmentVariable(Variable))
        {
            case "1":
                Console.Error.WriteLine(Prefix + NowNanoseconds());
                break;
            case "epoch":
                Console.Error.WriteLine(Prefix + (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100);
                break;
        }
    }
}
