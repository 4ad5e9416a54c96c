using System.Diagnostics;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Tests.Native;

/// <summary>
/// The CPU time of waited-for children, as a benchmark reads it around each command: a child
/// that computes adds about what it computed, one that sleeps adds next to nothing. Alone, so
/// that no other test's child is waited for in between.
/// </summary>
[Collection(nameof(ChildProcessCpuTimeTests))]
public sealed class ChildProcessCpuTimeTests
{
    private static (TimeSpan Cpu, TimeSpan Wall) Measure(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]);
        foreach (var a in command[1..]) psi.ArgumentList.Add(a);
        var before = ChildProcessCpuTime.Total();
        var wall = Stopwatch.StartNew();
        using (var p = Process.Start(psi)!) p.WaitForExit();
        return (ChildProcessCpuTime.Total() - before, wall.Elapsed);
    }

    [Fact]
    public void AComputingChildAddsItsCpuTimeAndASleepingOneAlmostNone()
    {
        // The loop runs in a grandchild (timeout's child): its time reaches this process through
        // timeout, which waits for it.
        var (busy, busyWall) = Measure("timeout", "0.4", "sh", "-c", "while :; do :; done");
        Assert.InRange(busy.TotalSeconds, 0.1, busyWall.TotalSeconds * Environment.ProcessorCount + 0.05);
        var (idle, idleWall) = Measure("sleep", "0.4");
        Assert.True(idleWall.TotalSeconds >= 0.35, $"sleep 0.4 took {idleWall.TotalSeconds:F3} s");
        Assert.True(idle.TotalSeconds < 0.1, $"a sleeping child added {idle.TotalSeconds:F3} s of CPU");
    }
}

[CollectionDefinition(nameof(ChildProcessCpuTimeTests), DisableParallelization = true)]
public sealed class ChildProcessCpuTimeCollection;
