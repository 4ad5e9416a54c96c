using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>vmreplay bench record</c> times run, record and replay of the exit-heavy guest on the
/// software CPU by default and prints its figures; no timing is asserted.
/// </summary>
public class BenchRecordTests
{
    [Fact]
    public void OneRoundOnTheSoftwareCpuPrintsEveryFigure()
    {
        var r = Vmreplay.Run(["bench", "record", "--rounds", "1"], timeoutSeconds: 300);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("--cpu soft", r.Stdout);
        Assert.Matches(new Regex(@"run_s=[0-9.]+ record_s=[0-9.]+ replay_s=[0-9.]+ record_over_run=[0-9.]+ replay_over_record=[0-9.]+ bytes_per_event=[0-9.]+ "), r.Stdout);
        var bad = Vmreplay.Run(["bench", "record", "--cpu", "fast"]);
        Assert.Equal(3, bad.ExitCode);
        Assert.Contains("--cpu fast: use kvm, soft or auto", bad.Stderr);
    }
}
