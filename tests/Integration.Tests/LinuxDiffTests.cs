namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>vmreplay diff</c> on real Linux boots: two recordings with the same command line differ
/// only in host timing (the PIT, the CMOS clock and service points follow host time), and one
/// with a changed command line makes the guest itself behave differently.
/// </summary>
[Collection(Alone)]
public sealed class LinuxDiffTests(LinuxKernel kernel) : IClassFixture<LinuxKernel>, IDisposable
{
    // Three Linux boots at once load this 2-CPU host enough to break other Linux tests that
    // run beside them (LinuxBootTests' replay then diverges at a snapshot), so this class runs
    // by itself, after the parallel collections.
    public const string Alone = "Linux diff recordings, alone";

    private const string HostTiming = "kind: host timing - ";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-linux-diff-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string name, string cmdline)
    {
        string trace = Path.Combine(_dir, name + ".vmtrace");
        var r = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", cmdline, "--serial-in", "/dev/null", "-o", trace], timeoutSeconds: 300);
        Assert.True(r.ExitCode == 0, $"recording {name} exited {r.ExitCode}: {r.Stderr}");
        return trace;
    }

    [Fact]
    public async Task SameCommandLineDiffersInHostTimingOnlyAndAChangedOneInTheGuest()
    {
        // Three ~10 s boots; recorded at once to save time (host timing differs anyway).
        string[] traces = await Task.WhenAll(
            Task.Run(() => Record("same1", kernel.Cmdline)),
            Task.Run(() => Record("same2", kernel.Cmdline)),
            Task.Run(() => Record("quiet", kernel.Cmdline + " quiet")));

        var same = Vmreplay.Run(["diff", traces[0], traces[1]], timeoutSeconds: 300);
        Assert.True(same.ExitCode is 0 or 1, same.Stdout + same.Stderr);
        Assert.DoesNotContain("command line differs", same.Stdout);
        if (same.ExitCode == 1)
        {
            Assert.Matches(@"first difference at event \d+:", same.Stdout);
            Assert.Contains(HostTiming, same.Stdout);
            Assert.Contains("the recordings differ in host timing from here; the guest behaved the same up to it", same.Stdout);
        }
        else Assert.StartsWith("identical:", same.Stdout);

        var changed = Vmreplay.Run(["diff", traces[0], traces[2]], timeoutSeconds: 300);
        Assert.True(changed.ExitCode == 1, changed.Stdout + changed.Stderr);
        string[] lines = changed.Stdout.Split('\n');
        // The header difference comes first, naming both command lines.
        Assert.Equal($"command line differs: A '{kernel.Cmdline}' B '{kernel.Cmdline} quiet'", lines[0]);
        Assert.Matches(@"^first difference at event \d+:$", lines[1]);
        // The kernel echoes its command line early: where the shared text ends, A prints the
        // line end and B goes on with " quiet", from the same instruction.
        Assert.Contains("kind: guest behaviour - the guest did something different given the same inputs up to here", changed.Stdout);
        Assert.Contains("the trace headers differ (above), the likely reason", changed.Stdout);
        // The kind line sits between the event listing and the serial difference, which shows B's extra word.
        int kind = Array.FindIndex(lines, l => l.StartsWith("kind: "));
        Assert.StartsWith("  B ", lines[kind - 1]);
        Assert.Matches(@"^serial output differs at byte \d+:$", lines[kind + 1]);
        Assert.StartsWith("  B: ", lines[kind + 3]);
        Assert.Contains(" quiet", lines[kind + 3]);
    }
}

[CollectionDefinition(LinuxDiffTests.Alone, DisableParallelization = true)]
public sealed class LinuxDiffRecordingsAlone;
