namespace VmReplay.Replayer;

/// <summary>Why a run of a <see cref="ReplaySession"/> (a seek, a free run, single-stepping) stopped.</summary>
public enum RunStopKind
{
    /// <summary>The run reached its goal: the position, event or number of instructions it was given.</summary>
    Reached,
    /// <summary>A breakpoint or watchpoint hit the run was to stop at (<see cref="RunStop.Hit"/>).</summary>
    Hit,
    /// <summary>The run paused at a natural stop because of <see cref="ReplaySession.RequestInterrupt"/>.</summary>
    Interrupted,
    /// <summary>The recording ends before the goal (<see cref="RunStop.End"/>); the machine is at its end.</summary>
    RecordingEnded,
}

/// <summary>
/// How a run of a <see cref="ReplaySession"/> ended: <see cref="Hit"/> is set for
/// <see cref="RunStopKind.Hit"/>, <see cref="End"/> for <see cref="RunStopKind.RecordingEnded"/>.
/// </summary>
public readonly record struct RunStop(RunStopKind Kind, HitLocation? Hit = null, RecordingEnd? End = null)
{
    public static RunStop Reached => new(RunStopKind.Reached);

    public static RunStop Interrupted => new(RunStopKind.Interrupted);

    public static RunStop AtHit(HitLocation hit) => new(RunStopKind.Hit, Hit: hit);

    public static RunStop Ended(RecordingEnd end) => new(RunStopKind.RecordingEnded, End: end);
}
