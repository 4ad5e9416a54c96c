using System.Diagnostics;
using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>
/// The tool users install is the Native AOT build `dotnet publish` makes (src/Cli/Cli.csproj),
/// while the other tests run the managed build beside them. Code that works managed can fail
/// native (reflection the compiler left out, a serializer built at run time), so this class
/// publishes the native tool once and holds it to the managed one on what users run: a
/// recording (byte for byte the same trace), a strict replay, the reports, an old trace, gdb,
/// and a VMM fault.
/// </summary>
public sealed class NativeBuildTests(NativeBuildTests.Published native) : IClassFixture<NativeBuildTests.Published>, IDisposable
{
    /// <summary>The native tool, published once for the class into a directory of its own.</summary>
    public sealed class Published : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-native-").FullName;

        public Published()
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "publish", Path.Combine(Vmreplay.RepoRoot, "src", "Cli"), "-c", "Release", "-r", "linux-x64", "-o", _dir, "-nologo", "-v", "q" })
                psi.ArgumentList.Add(a);
            // The test host's own MSBuild settings are not this build's.
            foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList()) psi.Environment.Remove(name);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(15))) p.Kill(entireProcessTree: true);
            Tool = Path.Combine(_dir, "vmreplay");
            // A warning fails the publish (TreatWarningsAsErrors): the output says which.
            if (!p.HasExited || p.ExitCode != 0 || !File.Exists(Tool))
                Failure = $"dotnet publish src/Cli failed ({(p.HasExited ? $"status {p.ExitCode}" : "timed out")}): {stdout.Result}{stderr}";
        }

        public string Tool { get; }

        public string? Failure { get; }

        public void Dispose() => Directory.Delete(_dir, recursive: true);
    }

    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-native-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Native
    {
        get
        {
            Assert.True(native.Failure is null, native.Failure);
            return native.Tool;
        }
    }

    private static readonly string Managed = Path.Combine(AppContext.BaseDirectory, "vmreplay.dll");

    private Vmreplay.Result Run(string tool, params string[] args) => Vmreplay.Run(args, cpu: "soft", tool: tool);

    [Fact]
    public void TheNativeToolRecordsTheSameTraceAsTheManagedOneAndReplaysEither()
    {
        string guest = Vmreplay.Guest("timer", "timer.elf");
        string nativeTrace = Path.Combine(_dir, "native.vmtrace"), managedTrace = Path.Combine(_dir, "managed.vmtrace");
        var recorded = Run(Native, "record", guest, "-o", nativeTrace, "--serial-in", "/dev/null", "--snapshot-every", "5ms");
        Assert.Contains("recorded ", recorded.Stderr);
        Assert.Equal(recorded.ExitCode, Run(Managed, "record", guest, "-o", managedTrace, "--serial-in", "/dev/null", "--snapshot-every", "5ms").ExitCode);
        // The virtual clock makes a recording reproducible: the two builds write the same bytes.
        Assert.Equal(File.ReadAllBytes(managedTrace), File.ReadAllBytes(nativeTrace));
        foreach (var (tool, trace) in new[] { (Native, managedTrace), (Managed, nativeTrace), (Native, nativeTrace) })
        {
            // The guest's own exit status, as the recording's.
            var replay = Run(tool, "replay", "--strict", trace);
            Assert.True(replay.ExitCode == recorded.ExitCode, $"{tool} {trace}: {replay.Stderr}");
            Assert.Contains("replay matched 273 events", replay.Stderr);
        }
    }

    [Fact]
    public void TheReportsAreTheManagedToolsByteForByte()
    {
        string ticks = Vmreplay.Guest("ticks", "ticks.elf");
        string a = Path.Combine(_dir, "a.vmtrace"), b = Path.Combine(_dir, "b.vmtrace");
        Assert.Contains("recorded ", Run(Native, "record", ticks, "--cmdline", "n=3", "-o", a, "--serial-in", "/dev/null").Stderr);
        Assert.Contains("recorded ", Run(Native, "record", ticks, "--cmdline", "n=4", "-o", b, "--serial-in", "/dev/null").Stderr);
        string[][] commands =
        [
            ["info", a], ["info", a, "--json"], ["events", a, "--json", "--count", "40"], ["events", b, "--from", "10", "--count", "5"],
            ["diff", a, b], ["diff", a, b, "--json"], ["diff", a, a, "--json"],
        ];
        foreach (var command in commands)
        {
            var n = Run(Native, command);
            var m = Run(Managed, command);
            Assert.True(m.Stdout.Length > 0, string.Join(' ', command));
            Assert.Equal((m.ExitCode, m.Stdout, m.Stderr), (n.ExitCode, n.Stdout, n.Stderr));
        }
    }

    [Fact]
    public void AVersion1TraceWhoseSnapshotsLackNewerMembersReplays()
    {
        // Its device state predates members added since: they take their declared defaults
        // without the reflection-based serializer, which the native build does not have.
        string trace = Path.Combine(Vmreplay.RepoRoot, "tests", "Recorder.Tests", "Fixtures", "hello-v1.vmtrace");
        var n = Run(Native, "replay", trace);
        var m = Run(Managed, "replay", trace);
        Assert.Contains("replay matched 90 events", n.Stderr);
        Assert.Equal((m.ExitCode, m.Stdout, m.Stderr), (n.ExitCode, n.Stdout, n.Stderr));
    }

    [Fact]
    public void GdbReverseContinuesToTheCorruptingStoreOnTheNativeStub()
    {
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Path.Combine(_dir, "failing-boot.vmtrace");
        Assert.Equal(3, Run(Native, "record", elf, "-o", trace, "--serial-in", "/dev/null").ExitCode);
        var (gdb, stub) = GdbDriver.DebugWith(Native, null, trace, elf, setArchitecture: false,
            "break panic", "continue", "watch boot_info->mmap[1].length", "reverse-continue", "x/i $pc", "reverse-stepi", "stepi", "monitor when");
        Assert.Contains("Breakpoint 1, panic", gdb);
        Assert.Matches(@"Old value = \d+\s+New value = \d+", gdb);
        Assert.Matches(@"=> 0x[0-9a-f]+ <log_tick\+\d+>:\s+mov\s+%ecx,\(%ebx\)", gdb);
        Assert.Matches(@"at instruction \d+, event \d+", gdb);
        Assert.DoesNotContain("   at ", stub);
    }

    [Fact]
    public void AVmmFaultIsRecordedWithWhyTheOtherThreadsStacksAreMissing()
    {
        string trace = Path.Combine(_dir, "fault.vmtrace");
        var psi = Vmreplay.StartInfo(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null"], Native);
        psi.Environment["VMREPLAY_INJECT_FAULT_AT_EXIT"] = "30";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(3, p.ExitCode);
        Assert.Matches(@"(?m)^vmreplay: VMM fault while recording: InvalidOperationException: fault injected at exit 30 ", stderr);
        var info = Run(Native, "info", trace, "--json");
        Assert.Contains("fault injected at exit 30", info.Stdout);
        Assert.Matches("\"CaptureError\": \"[^\"]*the native \\(Native AOT\\) build", info.Stdout);
        Assert.Contains("\"Threads\": []", info.Stdout);
        // The failing thread's own stack is the exception's.
        Assert.Matches(@"at VmReplay\.Cli\.Commands\.RecordCommand", info.Stdout);
    }
}
