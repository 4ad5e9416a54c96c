using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A trace replayed twice side by side on the software CPU, for reverse-continues that must stop
/// alike: one executor passes over the intervals that cannot hold a hit, the other replays every
/// interval (<see cref="ExactReverseExecutor.PassesOverIntervals"/> off). Both have run forward
/// to the end, as a debugging session's `continue` does, which learns what every interval touches.
/// </summary>
internal sealed class PassingAndReplaying : IDisposable
{
    public ReplaySession PassingSession { get; }
    public ReplaySession ReplayingSession { get; }
    public ExactReverseExecutor Passing { get; }
    public ExactReverseExecutor Replaying { get; }

    /// <summary>Where both runs forward ended.</summary>
    public InstructionPosition End { get; }

    public PassingAndReplaying(TraceReader reader)
    {
        PassingSession = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        ReplayingSession = ReplaySession.Open(reader, "/dev/kvm", Stream.Null, CpuBackendChoice.Soft);
        Passing = new ExactReverseExecutor(PassingSession);
        Replaying = new ExactReverseExecutor(ReplayingSession) { PassesOverIntervals = false };
        Assert.Equal(DebugStopKind.End, Passing.ContinueForward().Kind);
        Assert.Equal(DebugStopKind.End, Replaying.ContinueForward().Kind);
        End = Passing.Position;
        Assert.Equal(End, Replaying.Position);
    }

    public void Dispose()
    {
        PassingSession.Dispose();
        ReplayingSession.Dispose();
    }
}
