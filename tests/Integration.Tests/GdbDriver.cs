using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace VmReplay.Integration.Tests;

/// <summary>Runs `vmreplay replay --gdb` and the real gdb (-batch -nx) against it.</summary>
internal static class GdbDriver
{
    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>
    /// Starts `vmreplay replay --gdb PORT --gdb-once` on <paramref name="trace"/> and waits until it
    /// listens; with <paramref name="cpu"/>, on that backend (`--cpu`).
    /// </summary>
    public static (Process Stub, int Port, System.Text.StringBuilder Log) StartStub(string trace, string? cpu = null, string? tool = null)
    {
        int port = FreePort();
        var psi = Vmreplay.StartInfo(["replay", trace, "--gdb", port.ToString(), "--gdb-once"], tool);
        // The replay takes the backend the trace was recorded on (a test run's $VMREPLAY_CPU is for recording).
        psi.Environment["VMREPLAY_CPU"] = "auto";
        if (cpu is not null) { psi.ArgumentList.Add("--cpu"); psi.ArgumentList.Add(cpu); }
        var stub = Process.Start(psi)!;
        var stubErr = new System.Text.StringBuilder();
        var waiting = new ManualResetEventSlim();
        stub.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stubErr) stubErr.AppendLine(e.Data);
            if (e.Data.Contains("-ex 'target remote")) waiting.Set(); // the attach line, printed once listening
        };
        stub.BeginErrorReadLine();
        stub.BeginOutputReadLine();
        Assert.True(waiting.Wait(TimeSpan.FromSeconds(60)), $"the stub did not start: {stubErr}");
        return (stub, port, stubErr);
    }

    /// <summary>Serves <paramref name="trace"/> to one gdb run with these commands; returns gdb's output and the stub's stderr.</summary>
    public static (string Gdb, string Stub) Debug(string trace, string elf, bool setArchitecture, params string[] commands) =>
        DebugOn(null, trace, elf, setArchitecture, commands);

    /// <summary>As <see cref="Debug"/>, with the replay on backend <paramref name="cpu"/> (null: the trace's own, as auto picks).</summary>
    public static (string Gdb, string Stub) DebugOn(string? cpu, string trace, string? elf, bool setArchitecture, params string[] commands) =>
        DebugWith(null, cpu, trace, elf, setArchitecture, commands);

    /// <summary>As <see cref="DebugOn"/>, served by <paramref name="tool"/> (null: <see cref="Vmreplay.UnderTest"/>).</summary>
    public static (string Gdb, string Stub) DebugWith(string? tool, string? cpu, string trace, string? elf, bool setArchitecture, params string[] commands)
    {
        var (started, port, stubErr) = StartStub(trace, cpu, tool);
        using var stub = started;

        var gdb = new ProcessStartInfo("gdb") { RedirectStandardOutput = true, RedirectStandardError = true };
        gdb.ArgumentList.Add("-batch");
        gdb.ArgumentList.Add("-nx");
        // No file: gdb debugs by address alone (a guest whose symbols are not at hand).
        if (elf is not null) gdb.ArgumentList.Add(elf);
        if (setArchitecture) { gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add("set architecture i386:x86-64"); }
        gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add($"target remote 127.0.0.1:{port}");
        foreach (var c in commands) { gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add(c); }
        gdb.ArgumentList.Add("-ex"); gdb.ArgumentList.Add("kill");
        using var g = Process.Start(gdb)!;
        var output = g.StandardOutput.ReadToEndAsync();
        var errors = g.StandardError.ReadToEndAsync();
        if (!g.WaitForExit(TimeSpan.FromSeconds(300))) { g.Kill(true); stub.Kill(true); Assert.Fail($"gdb did not finish: {output.Result}"); }
        if (!stub.WaitForExit(TimeSpan.FromSeconds(30))) stub.Kill(true);
        lock (stubErr) return (output.Result + errors.Result, stubErr.ToString());
    }
}
