using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A recording of a guest that never ends by itself (a hung boot) is stopped from outside: Ctrl-C
/// (SIGINT) or SIGTERM. The trace is then complete, ends with a "stopped" end event, and replays
/// with --strict to that very point: the registers and memory the end event hashes match.
/// </summary>
public sealed partial class RecordingStopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-stop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Backends => Vmreplay.Backends;

    private const int SigInt = 2, SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    // Starts a recording, waits for the guest to print `ready` on its serial port, sends `signal`,
    // and returns the recording's status and stderr.
    private static (int Status, string Stderr) RecordAndSignal(string[] args, string ready, int signal, string? cpu)
    {
        var psi = Vmreplay.StartInfo(args);
        psi.RedirectStandardInput = true;
        if (cpu is not null) psi.Environment["VMREPLAY_CPU"] = cpu;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            var output = new System.Text.StringBuilder();
            var seen = Task.Run(() =>
            {
                while (p.StandardOutput.ReadLine() is { } line)
                {
                    output.AppendLine(line);
                    if (line.Contains(ready, StringComparison.Ordinal)) return true;
                }
                return false;
            });
            Assert.True(seen.Wait(TimeSpan.FromSeconds(60)) && seen.Result, $"the guest never printed '{ready}'; stdout: {output}; stderr: {(p.HasExited ? stderr.Result : "")}");
            // Past the greeting's last exit: the guest is in its loop when the signal comes.
            Thread.Sleep(300);
            Assert.Equal(0, Kill(p.Id, signal));
            _ = p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "the recording did not stop within 60 s of the signal");
            return (p.ExitCode, stderr.Result);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void CtrlCStopsAGuestSpinningWithInterruptsOffAndTheReplayEndsAtTheSameInstruction(string cpu)
    {
        Vmreplay.RequireBackend(cpu);
        string trace = Path.Combine(_dir, "hang.vmtrace");
        var (status, stderr) = RecordAndSignal(["record", Vmreplay.Guest("hang", "hang.bin"), "-o", trace, "--serial-in", "/dev/null"],
            "hang: spinning with interrupts off", SigInt, cpu);

        Assert.Equal(130, status);
        Assert.Contains("vmreplay: SIGINT: stopping the recording at the guest's next stop", stderr);
        Assert.Contains("vmreplay: stopped by SIGINT (Ctrl-C)\n", stderr);
        var events = Vmreplay.Run(["events", trace]);
        Assert.Equal(0, events.ExitCode);
        var last = events.Stdout.TrimEnd().Split('\n')[^2..];
        // The guest made no exit since its greeting: the stop is a kick, logged by where it landed.
        if (cpu == "soft") Assert.Matches(@"^\d+: timers and input serviced at instruction \d+$", last[0]);
        Assert.Matches(@"^\d+: end: Stopped, exit status 130 \(stopped by SIGINT \(Ctrl-C\)\)$", last[1]);

        var replay = Vmreplay.Run(["replay", "--strict", trace], cpu: cpu);
        Assert.Equal(130, replay.ExitCode);
        Assert.Contains("vmreplay: stopped by SIGINT (Ctrl-C)\n", replay.Stderr);
        Assert.Contains("vmreplay: replay matched", replay.Stderr);
        Assert.Equal("hang: spinning with interrupts off\n", replay.Stdout);
    }

    [Fact]
    public void AGuestSpinningWithoutExitsStillGetsItsSnapshotsAndASeekNearItsEndLandsWhereAStraightReplayDoes()
    {
        string trace = Path.Combine(_dir, "hang.vmtrace");
        // 1 ms of guest time is 100,000 instructions on the virtual clock; the instruction limit
        // ends the hang (the replay applies it too).
        var record = Vmreplay.Run(["record", "--cpu", "soft", Vmreplay.Guest("hang", "hang.bin"), "-o", trace, "--serial-in", "/dev/null",
            "--snapshot-every", "1ms", "--max-instructions", "1000007"]);
        Assert.Equal(3, record.ExitCode);
        var services = Vmreplay.Run(["events", trace]).Stdout.Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\d+: timers and input serviced at instruction (\d+)$"))
            .Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToList();
        // The snapshot due at 100,000 found no exit by 200,000 and was taken there; the next ones
        // are due every 100,000 from it and, the guest still making no exits, taken where due.
        Assert.Equal(new long[] { 200_000, 400_000, 500_000, 600_000, 700_000, 800_000, 900_000, 1_000_000 }, services);

        var replay = Vmreplay.Run(["replay", "--strict", trace]);
        Assert.Equal(3, replay.ExitCode);
        Assert.Contains("vmreplay: replay matched", replay.Stderr);
        Assert.Contains("and 8 snapshots", replay.Stderr);

        // Between the last snapshot and the end: from that snapshot, and from the start.
        var seek = Vmreplay.Run(["replay", trace, "--to-instruction", "1000003"]);
        var straight = Vmreplay.Run(["replay", trace, "--to-instruction", "1000003", "--from-start"]);
        Assert.Equal(0, seek.ExitCode);
        Assert.Equal(0, straight.ExitCode);
        Assert.Contains("1 snapshot restores", seek.Stderr);
        Assert.Equal(StateHash(straight.Stderr), StateHash(seek.Stderr));
    }

    [Fact]
    public void ARecordingThatEndedAtItsInstructionLimitReplaysToThatLimit()
    {
        // The echo guest polls for input after its two lines until the limit stops it; the
        // replay, which has no command line of its own, takes the limit from the trace.
        string trace = Path.Combine(_dir, "limited.vmtrace"), input = Path.Combine(_dir, "input");
        File.WriteAllText(input, "one\ntwo\n");
        var record = Vmreplay.Run(["record", "--cpu", "soft", Vmreplay.Guest("echo", "echo.elf"), "-o", trace, "--serial-in", input, "--max-instructions", "300000"]);
        Assert.Equal(3, record.ExitCode);
        Assert.Contains("vmreplay: the guest ran 300,000 instructions, the limit (--max-instructions)", record.Stderr);
        var replay = Vmreplay.Run(["replay", "--strict", trace]);
        Assert.Equal(3, replay.ExitCode);
        Assert.Contains("vmreplay: the guest ran 300,000 instructions, the limit (--max-instructions)", replay.Stderr);
        Assert.Contains("vmreplay: replay matched", replay.Stderr);
        Assert.Equal("echo: one\necho: two\n", replay.Stdout);
    }

    private static string StateHash(string stderr) =>
        System.Text.RegularExpressions.Regex.Match(stderr, @"state hash ([0-9a-f]+ [0-9a-f]+)").Groups[1].Value is { Length: > 0 } h ? h : throw new Xunit.Sdk.XunitException($"no state hash in: {stderr}");

    [Fact]
    public void SigtermStopsAGuestPollingForInputAndTheReplayEndsWhereItStopped()
    {
        string trace = Path.Combine(_dir, "echo.vmtrace"), input = Path.Combine(_dir, "input");
        // No "quit": the guest polls the serial port for more input forever, an exit each time.
        File.WriteAllText(input, "one\ntwo\n");
        var (status, stderr) = RecordAndSignal(["record", "--cpu", "soft", Vmreplay.Guest("echo", "echo.elf"), "-o", trace, "--serial-in", input],
            "echo: two", SigTerm, cpu: null);

        Assert.Equal(143, status);
        Assert.Contains("vmreplay: stopped by SIGTERM (asked to terminate)\n", stderr);
        var events = Vmreplay.Run(["events", trace]);
        var last = events.Stdout.TrimEnd().Split('\n')[^3..];
        Assert.Matches(@"^\d+: exit Io in port 03fd ", last[0]);
        // At the poll's exit, or where the kick landed between two polls.
        Assert.Matches(@"^\d+: timers and input serviced at (an exit|instruction \d+)$", last[1]);
        Assert.Matches(@"^\d+: end: Stopped, exit status 143 \(stopped by SIGTERM \(asked to terminate\)\)$", last[2]);

        var replay = Vmreplay.Run(["replay", "--strict", trace]);
        Assert.Equal(143, replay.ExitCode);
        Assert.Contains("vmreplay: replay matched", replay.Stderr);
        Assert.Equal("echo: one\necho: two\n", replay.Stdout);
        var info = Vmreplay.Run(["info", "--json", trace]);
        Assert.Contains("\"complete\": true", info.Stdout);
    }
}
