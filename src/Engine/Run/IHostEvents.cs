namespace VmReplay.Engine.Run;

/// <summary>
/// Where host asynchrony enters the run loop: timer deadlines falling due and host input
/// arriving. The run loop only asks at its own points (between KVM_RUN calls), so a recorder
/// can log exactly where each asynchronous service happened and a replayer can answer the
/// same way at the same points without any host timing.
/// </summary>
public interface IHostEvents
{
    /// <summary>
    /// Before entering the guest: the next engine-clock deadline of any device, or null, and
    /// whether an interrupt is pending that the guest cannot take yet (and no interrupt window
    /// was requested): then the source should stop the vCPU again soon to retry.
    /// </summary>
    void Arm(long? deadlineNanoseconds, bool interruptBlocked);

    /// <summary>At a stop: true if a deadline passed or input arrived since the last true answer.</summary>
    bool TakeDue(in StopPoint stop);

    /// <summary>True when debug exits are this source's own (a replay's breakpoints), not a guest event.</summary>
    bool OwnsDebugExits => false;

    /// <summary>
    /// Whether the run loop may ask KVM for interrupt-window exits. A recording and a replay may
    /// not: on some hosts a requested window changes how KVM runs the guest (an iret it would
    /// otherwise hand to the VMM is executed in the kernel), so record and replay would differ.
    /// </summary>
    bool AllowsInterruptWindow => true;

    /// <summary>
    /// The guest halted with interrupts enabled: block until something is due. Returns false
    /// when nothing can ever become due (no deadline, no more input).
    /// </summary>
    bool WaitIdle(long? deadlineNanoseconds);

    /// <summary>
    /// Makes something due now from any thread: the running vCPU is stopped (kicked), a halted
    /// one woken, and the next <see cref="TakeDue"/> answers true. How a recording's user stops
    /// it at a point that is logged like any service. A source driven by a trace has nothing to
    /// interrupt and ignores it.
    /// </summary>
    void Interrupt() { }

    /// <summary>
    /// Asked right after a service (rarely, then): the run ends here with this outcome, before any
    /// interrupt is delivered. A recording asked to stop answers its outcome; a replay of it
    /// answers the recorded one at the same service point. Also asked where the run loop would
    /// defer a service (a stop with interrupts disabled), which is then not deferred.
    /// </summary>
    RunOutcome? StopRequest => null;
}
