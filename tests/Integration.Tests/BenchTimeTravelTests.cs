using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>vmreplay bench time-travel</c> measures, in one run, the figures exact time travel on the
/// software CPU is judged by and prints each beside its target; no timing is asserted, only that
/// every figure is there, the Linux boot's included: the kernel is built (or taken from its
/// cache) first, as a clean checkout has none until a Linux test builds it.
/// </summary>
public class BenchTimeTravelTests(LinuxKernel kernel) : IClassFixture<LinuxKernel>
{
    [Fact]
    public void OneRoundPrintsEveryFigureBesideItsTarget()
    {
        var r = Vmreplay.Run(["bench", "time-travel", "--rounds", "1"], timeoutSeconds: 600);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(new Regex(@"exits_run_s=[0-9.]+ exits_record_s=[0-9.]+ exits_replay_s=[0-9.]+ exits_record_over_run=[0-9.]+ exits_replay_over_record=[0-9.]+ bytes_per_event=[0-9.]+ "), r.Stdout);
        Assert.Matches(new Regex(@"reverse_stepi_ms_1m=[0-9.]+ reverse_continue_ms_1m=[0-9.]+ reverse_stepi_ms_100m=[0-9.]+ reverse_continue_ms_100m=[0-9.]+"), r.Stdout);
        Assert.Contains("<= 1.05x", r.Stdout);
        Assert.Contains("< 100 ms", r.Stdout);
        Assert.True(File.Exists(kernel.Vmlinux));
        Assert.Matches(new Regex(@"linux_run_s=[0-9.]+ linux_record_s=[0-9.]+ linux_replay_s=[0-9.]+ linux_record_over_run=[0-9.]+ linux_replay_over_record=[0-9.]+"), r.Stdout);
        // Each command's time to the guest's first instruction, from its startup stamp: replay's too.
        Assert.Matches(new Regex(@"exits_start_run_s=[0-9.]+ exits_start_record_s=[0-9.]+ exits_start_replay_s=[0-9.]+ exits_run_s="), r.Stdout);
        Assert.Matches(new Regex(@"linux_start_run_s=[0-9.]+ linux_start_record_s=[0-9.]+ linux_start_replay_s=[0-9.]+ linux_run_s="), r.Stdout);
        // And the CPU time each command's threads spent, which a record's and a replay's extra threads add to.
        var cpu = new Regex(@"exits_cpu_run_s=([0-9.]+) exits_cpu_record_s=([0-9.]+) exits_cpu_replay_s=([0-9.]+)").Match(r.Stdout);
        Assert.True(cpu.Success, r.Stdout);
        Assert.All(cpu.Groups.Values.Skip(1), g => Assert.InRange(double.Parse(g.Value, System.Globalization.CultureInfo.InvariantCulture), 0.01, 60));
        Assert.Matches(new Regex(@"linux_cpu_run_s=[0-9.]+ linux_cpu_record_s=[0-9.]+ linux_cpu_replay_s=[0-9.]+"), r.Stdout);
    }
}
