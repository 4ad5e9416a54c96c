using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>
/// Live host events, with every point where asynchronous work was serviced logged. At an exit
/// the position alone identifies the point. At a forced stop (a kick landed while the guest ran
/// without exits), the point is identified by the next instruction's address, all general
/// registers and flags, and a hash of the pages written since the previous service point: a
/// replay stops at the first place with the same state, which is an equivalent point.
/// </summary>
public sealed class RecordingHostEvents(IHostEvents live, TraceWriter writer, IVcpuBackend vcpu, DirtyPageTracker dirty) : IHostEvents
{
    // The software CPU's live events, called as the sealed class they are: the run loop arms and
    // asks at every stop, and each call went through the interface twice (this class's, then theirs).
    private readonly VirtualTimeEvents? _virtualTime = live as VirtualTimeEvents;

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        if (_virtualTime is { } virtualTime) virtualTime.Arm(deadlineNanoseconds, interruptBlocked);
        else live.Arm(deadlineNanoseconds, interruptBlocked);
    }

    public bool AllowsInterruptWindow => false;

    public bool WaitIdle(long? deadlineNanoseconds) => live.WaitIdle(deadlineNanoseconds);

    public bool TakeDue(in StopPoint stop) => (_virtualTime is { } virtualTime ? virtualTime.TakeDue(stop) : live.TakeDue(stop)) && Serviced(stop);

    private volatile RunOutcome? _stop;

    /// <summary>
    /// Ends the recording at the next stop, after logging it as a service point (exact on the
    /// software CPU: an instruction count), so that a replay ends at the same point with the
    /// same state. Any thread; only the first request counts.
    /// </summary>
    public void RequestStop(RunOutcome outcome)
    {
        if (Interlocked.CompareExchange(ref _stop, outcome, null) is null) live.Interrupt();
    }

    public RunOutcome? StopRequest => _stop;

    // Logs the point just serviced; kept out of TakeDue, which asks at every stop and finds
    // nothing due at nearly all: compiled into it, the locals below were set up each time.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private bool Serviced(in StopPoint stop)
    {
        if (stop.Kind == StopKind.Exit)
        {
            dirty.Reset();
            writer.Append(new ServiceEvent());
            return true;
        }
        // A backend that counts instructions names the point exactly.
        if (stop.Instructions is { } retired)
        {
            dirty.Reset();
            writer.Append(new ScheduledServiceEvent(retired));
            return true;
        }
        var regs = vcpu.ReadRegisters();
        ulong linear = vcpu.WithState(s => s.LinearRip);
        var (contents, addresses) = dirty.Hashes();
        dirty.Reset();
        writer.Append(new ForcedServiceEvent(linear, RegisterFile.From(regs), contents, addresses));
        return true;
    }
}
