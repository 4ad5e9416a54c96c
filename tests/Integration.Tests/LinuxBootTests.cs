using System.Diagnostics;
using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>The kernel guests/linux/build.sh builds (or takes from its cache), built once for these tests.</summary>
public sealed class LinuxKernel
{
    public LinuxKernel()
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Vmreplay.RepoRoot, "guests", "linux", "build.sh"));
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(30))) { p.Kill(true); throw new TimeoutException("guests/linux/build.sh took over 30 minutes"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"guests/linux/build.sh failed ({p.ExitCode}): {output.Result}{errors.Result}");
        Cmdline = File.ReadAllText(Path.Combine(Vmreplay.RepoRoot, "guests", "linux", "cmdline")).Trim();
    }

    public string Vmlinux => Vmreplay.Guest("linux", "vmlinux");
    public string BzImage => Vmreplay.Guest("linux", "bzImage");
    public string Cmdline { get; }
}

/// <summary>A real Linux kernel (6.1, tinyconfig plus guests/linux/vmreplay.config) booted to its panic on /dev/kvm.</summary>
public sealed class LinuxBootTests(LinuxKernel kernel) : IClassFixture<LinuxKernel>, IDisposable
{
    private const string Panic = "Kernel panic - not syncing: No working init found.";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-linux-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("vmlinux")]  // PVH entry
    [InlineData("bzImage")]  // boot protocol, LZ4 decompressor
    public void BootsToThePanicAndEndsThroughTheResetItAsksFor(string image)
    {
        string path = image == "vmlinux" ? kernel.Vmlinux : kernel.BzImage;
        var r = Vmreplay.Run(["run", path, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null"], timeoutSeconds: 300);
        Assert.True(r.Stdout.Contains(Panic), r.Stdout + r.Stderr);
        // The int3 self-test of alternatives patching ran through the VMM's int3 emulation.
        Assert.Contains("x86/fpu: x87 FPU will use FXSAVE", r.Stdout);
        Assert.DoesNotContain("int3: 0000", r.Stdout);
        Assert.Contains("Command line: " + kernel.Cmdline, r.Stdout);
        Assert.Contains("guest reset the machine through the i8042", r.Stderr);
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public void ReplayOfTheBootEitherMatchesOrNamesTheFirstDifferenceNeverSilently()
    {
        // The kernel reads the TSC, which KVM cannot intercept on this host: its values reach
        // memory (entropy, stack slots), and the replay's snapshot check names those bytes.
        string trace = Path.Combine(_dir, "linux.vmtrace");
        var rec = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null", "-o", trace], timeoutSeconds: 300);
        Assert.True(rec.ExitCode == 0 && rec.Stdout.Contains(Panic), rec.Stdout + rec.Stderr);
        var rep = Vmreplay.Run(["replay", trace], timeoutSeconds: 300);
        if (rep.ExitCode == 0)
        {
            Assert.Equal(rec.Stdout, rep.Stdout);
            Assert.Contains("replay matched", rep.Stderr);
            return;
        }
        Assert.True(rep.ExitCode == 4, rep.Stderr);
        Assert.Matches(@"replay diverged at event \d+: expected \d+ pages with memory hash [0-9a-f]+ at snapshot \d+ \(after exit \d+\) \(the same pages, \d+ bytes differ; first at guest-physical [0-9a-f]+: recorded [0-9A-F]+, now [0-9A-F]+", rep.Stderr);
        // Up to the difference the replay printed exactly what the recording did.
        Assert.StartsWith(rep.Stdout, rec.Stdout);
        Assert.Contains("Linux version 6.1", rep.Stdout);
    }
}
