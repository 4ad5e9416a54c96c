using VmReplay.Engine.Run;

namespace VmReplay.Replayer;

/// <summary>
/// The recorded run ended before a run of the replay reached its goal: how it ended
/// (<paramref name="Outcome"/>), the events consumed by then, and the goal it did not reach.
/// </summary>
public sealed record RecordingEnd(RunOutcome Outcome, long Event, string Goal)
{
    /// <summary>One line for the user, e.g. "the recording ends (guest wrote 0 to the debug-exit port) at event 812, before event 9000".</summary>
    public string Message => $"the recording ends ({Outcome.Message}) at event {Event}, before {Goal}";

    public override string ToString() => Message;
}
