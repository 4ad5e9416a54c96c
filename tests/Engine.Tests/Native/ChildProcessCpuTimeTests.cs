using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Tests.Native;

/// <summary>
/// The CPU time of waited-for children, as a benchmark reads it around each command: it covers
/// at least what the child says it spent, its own child's time included (a command's threads
/// and whatever it runs). No bound on time itself: the child's own account (bash's `times`) is
/// the reference, whatever the host's load.
/// </summary>
[Collection(nameof(ChildProcessCpuTimeTests))]
public sealed partial class ChildProcessCpuTimeTests
{
    [Fact]
    public void TheDifferenceAcrossAChildCoversWhatItAndItsOwnChildSpent()
    {
        // The loop runs in a grandchild; the child waits for it and then prints its own user and
        // system time and its children's (bash's `times`: two lines of two "XmY.YYYs" each).
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true };
        foreach (var a in (string[])["-c", "bash -c 'for ((i = 0; i < 50000; i++)); do :; done'; times"]) psi.ArgumentList.Add(a);
        var before = ChildProcessCpuTime.Total();
        string output;
        using (var p = Process.Start(psi)!)
        {
            output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
        }
        var spent = ChildProcessCpuTime.Total() - before;

        var times = Times().Matches(output).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 60 + double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(times.Count == 4, output);
        double grandchild = times[2] + times[3];
        Assert.True(grandchild > 0, $"the loop took no CPU time by bash's account: {output}");
        // bash prints milliseconds: each of the four figures may be up to one under the kernel's.
        Assert.True(spent.TotalSeconds >= times.Sum() - 0.004, $"{spent.TotalSeconds:F6} s counted, bash reports {output}");
    }

    [GeneratedRegex(@"(\d+)m(\d+\.\d+)s")]
    private static partial Regex Times();
}

[CollectionDefinition(nameof(ChildProcessCpuTimeTests), DisableParallelization = true)]
public sealed class ChildProcessCpuTimeCollection;
