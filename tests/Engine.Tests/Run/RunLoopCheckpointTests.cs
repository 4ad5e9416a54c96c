using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Tests.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.Run;

/// <summary>
/// The run loop asks its checkpoints about an exit only from the one they last named
/// (<see cref="IRunCheckpoints.NextDue"/>): every checkpoint must still be reached, and a new
/// run, after which a replay's verifier may expect an earlier one (a snapshot restored between
/// runs), asks again at its first exit.
/// </summary>
public sealed class RunLoopCheckpointTests
{
    [Fact]
    public void EveryCheckpointIsReachedAndANewRunAsksAgainAtItsFirstExit()
    {
        using var machine = new SoftCpuMachine(32, a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 1_000);
            a.Label(ref loop);
            a.@out(0x80, al);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var vcpu = new SoftVcpu(0, machine.Cpu);
        var checkpoints = new Checkpoints { Due = [100, 250, 400] };
        long pauseAt = 300;
        var runner = new VcpuRunner(vcpu, new IdlePlatform(), new HostMonotonicClock(), new NoHostEvents())
        {
            Checkpoints = checkpoints,
            PauseRequested = stop => stop.Kind == StopKind.Exit && stop.ExitCount == pauseAt,
        };
        Assert.Equal(RunOutcome.Paused, runner.Run());
        Assert.Equal([100L, 250], checkpoints.Taken);
        // Named the next one (400) at 251, they were not asked in between.
        Assert.DoesNotContain(checkpoints.Asked, e => e > 251 && e < 300);

        // Between runs they come to expect one the run loop was told lay further on.
        checkpoints.Due = [320, 400];
        pauseAt = 500;
        Assert.Equal(RunOutcome.Paused, runner.Run());
        Assert.Equal([100L, 250, 320, 400], checkpoints.Taken);
        Assert.True(checkpoints.Asked.Count < 60, $"asked at {checkpoints.Asked.Count} of 500 exits");
    }

    // Due at the exits listed; answers as a recording's snapshots every N exits do.
    private sealed class Checkpoints : IRunCheckpoints
    {
        public List<long> Due { get; set; } = [];
        public List<long> Asked { get; } = [];
        public List<long> Taken { get; } = [];

        public long NextDue(long exitCount)
        {
            Asked.Add(exitCount);
            return Due.Contains(exitCount) && !Taken.Contains(exitCount) ? exitCount : Due.Where(d => d > exitCount).DefaultIfEmpty(long.MaxValue).Min();
        }

        public void Reached(long exitCount) => Taken.Add(exitCount);
    }

    private sealed class NoHostEvents : IHostEvents
    {
        public void Arm(long? deadlineNanoseconds, bool interruptBlocked) { }
        public bool TakeDue(in StopPoint stop) => false;
        public bool WaitIdle(long? deadlineNanoseconds) => false;
    }
}
