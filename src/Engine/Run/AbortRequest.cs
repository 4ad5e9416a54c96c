namespace VmReplay.Engine.Run;

/// <summary>
/// A reason for a run to end at its next stop, set from any thread by something outside the
/// machine (a trace writer that failed). The run loop reads it at every stop, where asking a
/// callback each time was a delegate and an interface call per exit for a reason that almost
/// never comes.
/// </summary>
public sealed class AbortRequest
{
    private RunOutcome? _reason;

    /// <summary>The reason to end the run, once one was given.</summary>
    public RunOutcome? Reason => Volatile.Read(ref _reason);

    /// <summary>Ends the run at its next stop; only the first reason given counts.</summary>
    public void Set(RunOutcome reason) => Interlocked.CompareExchange(ref _reason, reason, null);
}
