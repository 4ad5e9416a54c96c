using VmReplay.Engine.Run;

namespace VmReplay.Recorder;

/// <summary>
/// Live host events with every point where asynchronous work was serviced logged
/// (<see cref="ServicePointLog"/>), for a backend whose live events do not log it themselves
/// (KVM's, timed by the host; the software CPU's <see cref="VirtualTimeEvents"/> take the log
/// directly, which saves the run loop a second call at every stop).
/// </summary>
public sealed class RecordingHostEvents(IHostEvents live, IServicePointLog log) : IHostEvents
{
    public void Arm(long? deadlineNanoseconds, bool interruptBlocked) => live.Arm(deadlineNanoseconds, interruptBlocked);

    public bool AllowsInterruptWindow => false;

    public bool WaitIdle(long? deadlineNanoseconds) => live.WaitIdle(deadlineNanoseconds);

    public bool TakeDue(in StopPoint stop) => live.TakeDue(stop) && Serviced(stop);

    private volatile RunOutcome? _stop;

    /// <summary>
    /// Ends the recording at the next stop, after logging it as a service point, so that a
    /// replay ends at the same point with the same state. Any thread; only the first request counts.
    /// </summary>
    public void RequestStop(RunOutcome outcome)
    {
        if (Interlocked.CompareExchange(ref _stop, outcome, null) is null) live.Interrupt();
    }

    public RunOutcome? StopRequest => _stop;

    // Kept out of TakeDue, which asks at every stop and finds nothing due at nearly all.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private bool Serviced(in StopPoint stop)
    {
        log.Serviced(stop);
        return true;
    }
}
