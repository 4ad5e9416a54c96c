using System.Diagnostics;
using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>A recording that is killed or cannot write keeps everything written before, readable.</summary>
public sealed class RecordingFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-fail-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ARecordingKilledWithSigkillIsReadUpToItsLastCompleteChunk()
    {
        string trace = Path.Combine(_dir, "killed.vmtrace");
        var psi = Vmreplay.StartInfo(["record", Vmreplay.Guest("bench-exits", "bench-exits.bin"), "-o", trace, "--snapshot-every", "2000", "--serial-in", "/dev/null"]);
        using (var p = Process.Start(psi)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // Several snapshots (each preceded by its events) are on disk: kill it mid-run.
            while (!p.HasExited && DateTime.UtcNow < deadline && (!File.Exists(trace) || new FileInfo(trace).Length < 40_000)) Thread.Sleep(20);
            Assert.False(p.HasExited, "the recording ended before it could be killed");
            p.Kill(); // SIGKILL
            p.WaitForExit();
        }
        var info = Vmreplay.Run(["info", trace, "--json"]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("\"complete\": false", info.Stdout);
        Assert.Matches("\"snapshots\": [1-9]", info.Stdout);
        var replay = Vmreplay.Run(["replay", trace]);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        Assert.Contains("is incomplete", replay.Stderr);
        Assert.Matches(@"replayed \d+ events to the end of the incomplete recording with no divergence", replay.Stderr);
        var seek = Vmreplay.Run(["replay", trace, "--to", "100"]);
        Assert.True(seek.ExitCode == 0, seek.Stderr);
    }

    [Fact]
    public void AWriteFailureStopsRecordingWithAMessageAndKeepsAReadableTrace()
    {
        // A file-size limit fails writes with EFBIG as a full disk fails them with ENOSPC,
        // without needing a small file system. (The runtime's W^X double mapping needs a
        // memory file larger than the limit, so it is turned off for this process.)
        string trace = Path.Combine(_dir, "limited.vmtrace");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"ulimit -f 100; exec {Vmreplay.ShellCommand} record '{Vmreplay.Guest("timer", "timer.elf")}' -o '{trace}' --snapshot-every 1 --serial-in /dev/null");
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(3, p.ExitCode);
        Assert.Contains("recording stopped", stderr);
        Assert.Contains("file-size limit", stderr);
        Assert.DoesNotContain("   at ", stderr);
        var info = Vmreplay.Run(["info", trace, "--json"]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("\"complete\": false", info.Stdout);
        var replay = Vmreplay.Run(["replay", trace]);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        Assert.Contains("no divergence", replay.Stderr);
    }

    [Fact]
    public void AVmmFaultWhileRecordingEndsTheTraceWithTheExceptionAndThreadStacks()
    {
        string trace = Path.Combine(_dir, "fault.vmtrace");
        var psi = Vmreplay.StartInfo(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null"]);
        psi.Environment["VMREPLAY_INJECT_FAULT_AT_EXIT"] = "30";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(3, p.ExitCode);
        // A host that ignores the CPU model adds a warning line at the start of every recording.
        stderr = Regex.Replace(stderr, @"(?m)^vmreplay: (warning|cpu): .*\n", "");
        Assert.Matches(@"^vmreplay: VMM fault while recording: InvalidOperationException: fault injected at exit 30 .*\(vmreplay info\)\n$", stderr);
        Assert.DoesNotContain("createdump", stdout);
        var info = Vmreplay.Run(["info", trace, "--json"]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("\"complete\": true", info.Stdout);
        Assert.Contains("\"ExceptionType\": \"System.InvalidOperationException\"", info.Stdout);
        if (Vmreplay.UnderTestIsNative)
        {
            // A native build (VMREPLAY_UNDER_TEST) has no runtime ClrMD could read: it says so.
            Assert.Contains("the native (Native AOT) build", info.Stdout);
            return;
        }
        Assert.Contains("\"CaptureError\": null", info.Stdout);
        // A named VMM thread's stack ("vmreplay trace writer", or the kernel's 15 characters of
        // it where the dump had to leave out the heap on a loaded host).
        Assert.Contains("vmreplay trace", info.Stdout);
        var table = Vmreplay.Run(["info", trace]);
        Assert.Contains("VMM fault", table.Stdout);
    }
}
