using System.Diagnostics;
using System.Text.RegularExpressions;
using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Replayer;

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

    private string Record()
    {
        string trace = Path.Combine(_dir, "linux.vmtrace");
        var rec = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null", "-o", trace], timeoutSeconds: 300);
        Assert.True(rec.ExitCode == 0 && rec.Stdout.Contains(Panic), rec.Stdout + rec.Stderr);
        _recordedSerial = rec.Stdout;
        return trace;
    }

    private string _recordedSerial = "";

    [Fact]
    public void TheReplayReproducesTheSerialLogAndEveryExitAndNamesAnyMemoryDifference()
    {
        string trace = Record();
        var rep = Vmreplay.Run(["replay", trace], timeoutSeconds: 300);
        Assert.True(rep.ExitCode == 0, rep.Stderr);
        Assert.Equal(_recordedSerial, rep.Stdout);
        Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots", rep.Stderr);
        var strict = Vmreplay.Run(["replay", trace, "--strict"], timeoutSeconds: 300);
        if (rep.Cpu!.StartsWith("soft", StringComparison.Ordinal))
        {
            // The software CPU records RDTSC like any input: the replay is exact, strict or not.
            Assert.DoesNotContain("guest memory differed", rep.Stderr);
            Assert.True(strict.ExitCode == 0, strict.Stderr);
            Assert.Equal(_recordedSerial, strict.Stdout);
            Assert.Matches(@"replay matched \d+ events", strict.Stderr);
        }
        else
        {
            // The kernel reads the TSC (entropy on every interrupt), which KVM cannot intercept:
            // its values reach memory, and each snapshot where bytes differ is named, never silent.
            Assert.Matches(@"guest memory differed from the recording in data only .*at \d+ snapshots \(\d+ bytes; first snapshot \d+ \(after exit \d+\), event \d+: \d+ bytes, first at guest-physical [0-9a-f]+: recorded [0-9A-F]+, now [0-9A-F]+", rep.Stderr);
            // --strict makes the first such difference a divergence, with the same bytes named.
            Assert.True(strict.ExitCode == 4, strict.Stderr);
            Assert.Matches(@"replay diverged at event \d+: expected", strict.Stderr);
            Assert.StartsWith(strict.Stdout, _recordedSerial);
        }
    }

    /// <summary>
    /// Recorded on KVM (only where /dev/kvm is), the boot replays on the software CPU to its end
    /// with the same serial log: the guest made the same MSR exits on both (every MSR the vCPU
    /// does not answer itself goes to the VMM on KVM too), and the software CPU answers CPUID as
    /// the recording's KVM did where that KVM did not apply the model.
    /// </summary>
    [Fact]
    public void ABootRecordedOnKvmReplaysOnTheSoftwareCpuWithTheSameSerialLog()
    {
        Vmreplay.RequireBackend("kvm");
        string trace = Path.Combine(_dir, "linux-kvm.vmtrace");
        var rec = Vmreplay.Run(["record", "--cpu", "kvm", kernel.Vmlinux, "--cmdline", kernel.Cmdline, "--serial-in", "/dev/null", "-o", trace], timeoutSeconds: 300);
        Assert.True(rec.ExitCode == 0 && rec.Stdout.Contains(Panic), rec.Stdout + rec.Stderr);
        var rep = Vmreplay.Run(["replay", "--cpu", "soft", trace], timeoutSeconds: 300);
        Assert.True(rep.ExitCode == 0, rep.Stderr);
        Assert.StartsWith("soft", rep.Cpu);
        Assert.Equal(rec.Stdout, rep.Stdout);
        Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots", rep.Stderr);
    }

    [Fact]
    public void GdbBreaksOnPanicShowsTheCallChainAndStepsBackIntoTheCaller()
    {
        string trace = Record();
        var (gdb, stub) = GdbDriver.Debug(trace, kernel.Vmlinux, setArchitecture: false,
            "break panic", "continue", "p ($cr4 >> 20) & 1", "bt", "reverse-stepi", "x/i $pc", "bt 1", "stepi", "bt 1",
            "break try_to_run_init_process", "reverse-continue", "p init_filename");
        Assert.Contains("Breakpoint 1, panic", gdb);
        // The kernel turned SMEP on, which the software CPU's model offers.
        Assert.Contains("$1 = 1", gdb);
        // The call chain that led to the panic: kernel_init, started by ret_from_fork.
        Assert.Matches(@"#1 +0x[0-9a-f]+ in kernel_init", gdb);
        Assert.Contains("ret_from_fork", gdb);
        // One instruction back from panic's first: the call in kernel_init; and forward again.
        Assert.Matches(@"=> 0x[0-9a-f]+ <kernel_init\+\d+>:\s+call\s+0x[0-9a-f]+ <panic>", gdb);
        Assert.Matches(@"#0 +(0x[0-9a-f]+ in )?kernel_init[\s\S]*#0 +(0x[0-9a-f]+ in )?panic", gdb);
        // Back to the last init the kernel tried before giving up: /bin/sh, after /sbin/init,
        // /etc/init, /bin/init.
        Assert.Matches(@"Breakpoint 2, try_to_run_init_process \(init_filename=.*""/bin/sh""\)", gdb);
        Assert.DoesNotContain("diverged", stub);
    }

    /// <summary>
    /// A debugger's session on the boot recorded on the software CPU with a snapshot every 2 ms
    /// of guest time (and none of the workarounds a KVM recording needs): its run forward passes
    /// a timer deadline recorded right after an I/O exit's instruction (the kernel calibrating its
    /// clock against the PIT), where the run completed that instruction before asking for the
    /// stop; and a reverse-continue watching a variable parsed from the command line stops at its
    /// write, passing over the intervals that write none of its page, exactly where replaying
    /// every interval stops.
    /// </summary>
    [Fact]
    public void ADebuggersRunsPassRecordedPointsRightAfterExitsAndPassOverIntervalsThatCannotHit()
    {
        const string softCmdline = "console=ttyS0 earlyprintk=serial,ttyS0 rodata=off nolapic panic=-1";
        string trace = Path.Combine(_dir, "linux-2ms.vmtrace");
        var rec = Vmreplay.Run(["record", kernel.Vmlinux, "--cmdline", softCmdline, "--serial-in", "/dev/null", "-o", trace, "--snapshot-every", "2ms"],
            cpu: "soft", timeoutSeconds: 300);
        Assert.True(rec.ExitCode == 0 && rec.Stdout.Contains(Panic), rec.Stdout + rec.Stderr);
        using var reader = TraceReader.Open(trace);
        long? lastExit = null;
        int rightAfterExits = 0;
        foreach (var e in reader.Events())
        {
            if (e is ExitEvent x) lastExit = x.Instructions;
            else if (e is ScheduledServiceEvent s && s.Instructions == lastExit + 1) rightAfterExits++;
        }
        Assert.True(rightAfterExits > 0, "no recorded point right after an exit: the kernel or the snapshot interval changed, and this test no longer covers that case");

        using var pair = new PassingAndReplaying(reader);
        var (passing, replaying, a, b, end) = (pair.PassingSession, pair.ReplayingSession, pair.Passing, pair.Replaying, pair.End);

        ulong panicTimeout = ElfSymbols.Address(kernel.Vmlinux, "panic_timeout");
        passing.Watches = replaying.Watches = [new WatchedRange(panicTimeout, 4, [(panicTimeout, 4)], WatchKind.Write)];
        int passingBefore = passing.Restores, replayingBefore = replaying.Restores;
        var stop = a.ContinueBackward();
        Assert.Equal((b.ContinueBackward(), b.Position), (stop, a.Position));
        Assert.Equal(DebugStopKind.Watch, stop.Kind);
        Assert.True(passing.Restores - passingBefore < replaying.Restores - replayingBefore,
            $"{passing.Restores - passingBefore} restores passing over intervals, {replaying.Restores - replayingBefore} replaying each");

        // A breakpoint on code that runs once, early (start_kernel, in the init text): from the
        // end, back to it, passing over the intervals that ran nothing on its page.
        passing.Watches = replaying.Watches = [];
        ulong startKernel = ElfSymbols.Address(kernel.Vmlinux, "start_kernel");
        passing.Breakpoints = replaying.Breakpoints = [startKernel];
        a.GoTo(end);
        b.GoTo(end);
        passingBefore = passing.Restores;
        replayingBefore = replaying.Restores;
        stop = a.ContinueBackward();
        Assert.Equal((b.ContinueBackward(), b.Position), (stop, a.Position));
        Assert.Equal((DebugStopKind.Breakpoint, startKernel), (stop.Kind, stop.Address));
        Assert.True(passing.Restores - passingBefore < replaying.Restores - replayingBefore,
            $"{passing.Restores - passingBefore} restores passing over intervals, {replaying.Restores - replayingBefore} replaying each");
    }
}
