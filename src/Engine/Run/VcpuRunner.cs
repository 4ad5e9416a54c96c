using VmReplay.Engine.Backend;
using VmReplay.Engine.Cpu;
using VmReplay.Engine.Determinism;

namespace VmReplay.Engine.Run;

/// <summary>
/// The run loop of one vCPU, on any backend: enters the guest, handles every exit, delivers
/// interrupts from the platform's controller at points the VMM chooses, and services timers and
/// input only between runs. Returns how the run ended; a guest's misbehaviour is an outcome,
/// never an exception.
/// </summary>
public sealed class VcpuRunner
{
    private readonly IVcpuBackend _vcpu;
    private readonly IMachinePlatform _platform;
    private readonly IEngineClock _clock;
    private readonly IHostEvents _events;
    private readonly MsrModel _msrs;

    public VcpuRunner(IVcpuBackend vcpu, IMachinePlatform platform, IEngineClock clock, IHostEvents events)
    {
        _vcpu = vcpu;
        _platform = platform;
        _clock = clock;
        _events = events;
        _msrs = new MsrModel(clock);
    }

    /// <summary>Called after every exit with the vCPU stopped (for --trace-exits and recording).</summary>
    public Action<IVcpuBackend, VcpuExit>? ExitObserver { get; set; }

    /// <summary>
    /// Repetitions of a port exit the <see cref="ExitObserver"/> predicted: an exit that is the
    /// next of them is taken here and the observer is not called for it.
    /// </summary>
    public PredictedPortExits? PredictedExits { get; set; }

    /// <summary>Exits handled so far.</summary>
    public long ExitCount { get; private set; }

    /// <summary>Checked at every stop: a reason to end the run that comes from outside the machine (a failed trace writer).</summary>
    public AbortRequest? Abort { get; set; }

    /// <summary>Where to hand over a whole machine state (snapshots, their verification).</summary>
    public IRunCheckpoints? Checkpoints
    {
        get => _checkpoints;
        set
        {
            _checkpoints = value;
            _checkpointDeadline = DeadlineOf(value);
            AskCheckpointsAtNextExit();
        }
    }
    private IRunCheckpoints? _checkpoints;

    // The exit count the checkpoints last named as the next at which one may be due (NextDue):
    // a polling loop's exits are not each a call to them.
    private long _checkpointFromExit = long.MaxValue;

    private void AskCheckpointsAtNextExit() => _checkpointFromExit = _checkpoints is null ? long.MaxValue : long.MinValue;

    // When the guest is stopped for the next checkpoint if no exit was one first, where guest
    // time is the instruction count (a stop there is exact): a guest that spins without exits (a
    // hung boot) still gets its snapshots, and reverse execution near its end does not replay it
    // from the start. Null: checkpoints at exits only.
    private long? _checkpointDeadline;

    private long? DeadlineOf(IRunCheckpoints? checkpoints) =>
        checkpoints is not null && _clock is IVirtualClock && _vcpu.InstructionsRetired is not null ? checkpoints.DueNanoseconds : null;

    private static long? Earliest(long? a, long? b) => a is { } x && b is { } y ? Math.Min(x, y) : a ?? b;

    // After a checkpoint: its successor's due time, armed at once, so that a deadline the
    // checkpoint just met does not make this stop a service as well.
    private void CheckpointTaken(IRunCheckpoints checkpoints)
    {
        long? before = _checkpointDeadline;
        _checkpointDeadline = DeadlineOf(checkpoints);
        AskCheckpointsAtNextExit();
        if (before is not null) ArmEvents();
    }

    // The next deadline (a device's timer, or a checkpoint due by time) and whether an interrupt
    // waits that the guest cannot take yet.
    private void ArmEvents() =>
        _events.Arm(Earliest(_platform.NextDeadlineNanoseconds, _checkpointDeadline), _platform.HasPendingInterrupt && !_vcpu.RequestInterruptWindow);

    /// <summary>
    /// Asked once at every stop before anything is serviced: when true, the run completes the
    /// pending instruction and returns <see cref="RunOutcome.Paused"/>; calling <see cref="Run"/>
    /// again continues from that same stop without asking again.
    /// </summary>
    public Func<StopPoint, bool>? PauseRequested { get; set; }

    private bool _resumingFromPause;
    private bool _resumingAfterDelivery;
    // The data watchpoint the last delivery accessed (its frame), for the Delivered stop after it.
    private DataWatchpointHit? _deliveryWatch;

    /// <summary>
    /// Also ask <see cref="PauseRequested"/> right after an interrupt was delivered (a
    /// <see cref="StopKind.Delivered"/> stop), so that the state at a handler's entry is a place a
    /// single-stepping debugger can stop at.
    /// </summary>
    public bool PauseAfterDelivery { get; set; }

    /// <summary>
    /// Complete the pending instruction of an exit before asking <see cref="PauseRequested"/>, so
    /// the registers it sees are those after the instruction (single-stepping needs that; a plain
    /// replay does not pay the extra KVM_RUN).
    /// </summary>
    public bool CompleteBeforePause { get; set; }


    private StopKind _lastStop = StopKind.Exit;
    private long _checkpointDone = -1;

    /// <summary>
    /// What the last exit handled was. The exit object does not keep it: completing the exit's
    /// instruction may refill it.
    /// </summary>
    public VcpuExitKind? LastExit { get; private set; }

    /// <summary>External interrupts the VMM delivered.</summary>
    public long InterruptsDelivered { get; private set; }

    /// <summary>Instructions the backend executed on the VMM's behalf (KVM's emulation fallback).</summary>
    public long EmulatedInstructions { get; private set; }

    /// <summary>The counters that belong to a machine state, as saved in a snapshot.</summary>
    public RunnerCounters Counters => new(ExitCount, InterruptsDelivered, EmulatedInstructions, _msrs.TscOffset, _vcpu.InstructionsRetired,
        (_clock as IVirtualClock)?.IdleNanoseconds);

    /// <summary>
    /// Continues from a restored snapshot taken at the checkpoint after exit
    /// <see cref="RunnerCounters.ExitCount"/>; that checkpoint is not reported again.
    /// </summary>
    public void RestoreCounters(RunnerCounters c)
    {
        ExitCount = c.ExitCount;
        InterruptsDelivered = c.InterruptsDelivered;
        EmulatedInstructions = c.EmulatedInstructions;
        _msrs.TscOffset = c.TscOffset;
        if (c.Instructions is { } retired) _vcpu.RestoreInstructionCount(retired);
        if (c.IdleNanoseconds is { } idle && _clock is IVirtualClock virtualClock) virtualClock.IdleNanoseconds = idle;
        _lastStop = StopKind.Exit;
        // The restored stop is a checkpoint, its instruction complete: no exit has been handled
        // since, and an observer must not take the exit before the restore for this one.
        LastExit = null;
        _checkpointDone = c.ExitCount;
        _resumingFromPause = false;
        _resumingAfterDelivery = false;
    }

    /// <summary>Runs until the machine stops or pauses. Must be called on the thread that will own the vCPU.</summary>
    public RunOutcome Run()
    {
        // What the checkpoints named last may no longer hold: a replay's verifier, when a
        // snapshot was restored between runs, expects the one after it.
        AskCheckpointsAtNextExit();
        _vcpu.AttachThread();
        try
        {
            while (true)
            {
                if (_resumingAfterDelivery)
                {
                    _resumingAfterDelivery = false;
                    goto enter;
                }
                if (_platform.StopRequest is { } stop) return stop;
                if (Abort?.Reason is { } abort) return abort;
                if (ExitCount >= _checkpointFromExit && _lastStop == StopKind.Exit && _checkpointDone != ExitCount && Checkpoints is { } checkpoints)
                {
                    long due = checkpoints.NextDue(ExitCount);
                    if (due == ExitCount)
                    {
                        _checkpointDone = ExitCount;
                        _vcpu.CompletePendingInstruction();
                        checkpoints.Reached(ExitCount);
                        CheckpointTaken(checkpoints);
                    }
                    else _checkpointFromExit = due;
                }
                if (!_resumingFromPause && CompleteBeforePause && _lastStop == StopKind.Exit) _vcpu.CompletePendingInstruction();
                if (!_resumingFromPause && PauseRequested?.Invoke(new StopPoint(ExitCount, _lastStop, _vcpu.InstructionsRetired)) == true)
                {
                    _vcpu.CompletePendingInstruction();
                    _resumingFromPause = true;
                    return RunOutcome.Paused;
                }
                _resumingFromPause = false;
                // A kick that lands where the guest cannot take an interrupt (IF clear) leaves the
                // due work for the next exit or a later kick: serviced there, it would change
                // nothing the guest can see, yet a recording would have to log a point that no
                // exit marks, in code that often computes on unrecordable values (an entropy
                // pool mixed with interrupts off).
                // A request to stop is not deferred: a guest that hangs with interrupts off must stop too.
                bool deferred = _lastStop == StopKind.Interrupted && !_vcpu.InterruptFlag && _events.StopRequest is null;
                bool serviced = !deferred && _events.TakeDue(new StopPoint(ExitCount, _lastStop, _vcpu.InstructionsRetired));
                if (serviced)
                {
                    if (ServiceAsyncEvents() is { } stopped) return stopped;
                    // A checkpoint the guest was stopped for here (see _checkpointDeadline):
                    // after the logged service, before any delivery (what a restore resumes with).
                    // Only where the backend counts instructions, which names such a stop by its
                    // count: a forced point of KVM's is named by the events around it, and a
                    // snapshot there would name it differently from the replay's own timeline
                    // (which keys it before its event is consumed), so reverse steps across it
                    // would find no way back. KVM takes its checkpoints at exits.
                    if (_lastStop != StopKind.Exit && _vcpu.InstructionsRetired is not null && Checkpoints is { } due && due.NextDue(ExitCount) == ExitCount)
                    {
                        due.Reached(ExitCount);
                        CheckpointTaken(due);
                    }
                }
                // Where a replay must reproduce delivery, deliver only at exits and at service
                // points the host-events source logged; anywhere else the point is not recorded.
                if (_lastStop == StopKind.Exit || serviced || _events.AllowsInterruptWindow)
                {
                    long before = InterruptsDelivered;
                    if (DeliverInterrupt() is { } failed) return failed;
                    if (InterruptsDelivered != before && PauseAfterDelivery
                        && PauseRequested?.Invoke(new StopPoint(ExitCount, StopKind.Delivered, _vcpu.InstructionsRetired, _deliveryWatch)) == true)
                    {
                        _resumingAfterDelivery = true;
                        return RunOutcome.Paused;
                    }
                }
            enter:
                ArmEvents();

                var exit = _vcpu.Run();
                switch (exit.Kind)
                {
                    case VcpuExitKind.Interrupted:
                        _lastStop = StopKind.Interrupted;
                        continue;
                    case VcpuExitKind.Debug when _events.OwnsDebugExits:
                        _lastStop = StopKind.Debug;
                        continue;
                    case VcpuExitKind.InterruptWindow:
                        _lastStop = StopKind.Window;
                        continue;
                    case VcpuExitKind.Scheduled:
                        _lastStop = StopKind.Scheduled;
                        continue;
                }
                ExitCount++;
                _lastStop = StopKind.Exit;
                LastExit = exit.Kind;
                var outcome = HandleExit(exit);
                if (PredictedExits is not { } predicted || !predicted.TryTake(exit)) ExitObserver?.Invoke(_vcpu, exit);
                if (outcome is not null) return outcome;
            }
        }
        finally
        {
            _vcpu.DetachThread();
        }
    }

    // Services timers and input; then the run ends here if the host events say so (a recording
    // stopped from outside, a replay of one at its end).
    private RunOutcome? ServiceAsyncEvents()
    {
        _platform.AdvanceTo(_clock.ReadNanoseconds());
        _platform.PollInput();
        return _events.StopRequest;
    }

    // The VMM delivers interrupts itself, at the exact instruction boundary where it stopped the
    // vCPU (KVM_INTERRUPT leaves the moment to KVM, which on some hosts lets the guest run on
    // first). When the guest cannot take one now, ask for an exit at the next interrupt window
    // where the host-events source allows it, instead of dropping or spinning.
    private RunOutcome? DeliverInterrupt()
    {
        if (!_platform.HasPendingInterrupt)
        {
            _vcpu.RequestInterruptWindow = false;
            return null;
        }
        bool mayWait = _events.AllowsInterruptWindow;
        _vcpu.CompletePendingInstruction();
        var result = _vcpu.TryDeliverInterrupt(_platform.AcknowledgeInterrupt);
        if (result.Failure is { } failure) return RunOutcome.Error($"cannot deliver an interrupt: {failure}");
        if (result.Delivered) InterruptsDelivered++;
        _deliveryWatch = result.Watch;
        _vcpu.RequestInterruptWindow = mayWait && (!result.Delivered || _platform.HasPendingInterrupt);
        return null;
    }

    private RunOutcome? HandleExit(VcpuExit exit)
    {
        switch (exit.Kind)
        {
            case VcpuExitKind.PortIo:
                HandleIo(exit);
                return null;
            case VcpuExitKind.Mmio:
                if (exit.IsWrite) _platform.MmioWrite(exit.Address, exit.Data);
                else _platform.MmioRead(exit.Address, exit.Data);
                return null;
            case VcpuExitKind.HostInterrupt:
                return null;
            case VcpuExitKind.EmulatedInstruction:
                EmulatedInstructions++;
                return null;
            case VcpuExitKind.Halt:
                return HandleHalt();
            case VcpuExitKind.MsrRead:
                if (_msrs.TryRead(exit.MsrIndex, out ulong value)) exit.MsrData = value;
                else exit.MsrFailed = true;
                return null;
            case VcpuExitKind.MsrWrite:
                if (!_msrs.TryWrite(exit.MsrIndex, exit.MsrData)) exit.MsrFailed = true;
                return null;
            case VcpuExitKind.Shutdown:
                return _vcpu.WithState(s => new RunOutcome(RunOutcomeKind.TripleFault, 2,
                    $"triple fault (shutdown) at RIP {s.Regs.Rip:x}, CR0 {s.Sregs.Cr0:x}, CS {s.Sregs.Cs.Selector:x4} (base {s.Sregs.Cs.Base:x})"));
            case VcpuExitKind.SystemEvent:
                return exit.SystemEvent switch
                {
                    SystemEventKind.PowerOff => new RunOutcome(RunOutcomeKind.PowerOff, 0, exit.Message ?? "guest powered off"),
                    SystemEventKind.Reset => new RunOutcome(RunOutcomeKind.Reset, 0, exit.Message ?? "guest requested a reset"),
                    _ => RunOutcome.Error(exit.Message ?? "guest system event"),
                };
            case VcpuExitKind.Debug:
                return _vcpu.WithState(s => RunOutcome.Error($"unexpected debug exit at RIP {s.Regs.Rip:x}: no debugger is attached"));
            default:
                return RunOutcome.Error(exit.Message ?? $"the vCPU stopped ({exit.Kind})");
        }
    }

    private void HandleIo(VcpuExit exit)
    {
        var data = exit.Data;
        int size = exit.Size;
        ushort port = exit.Port;
        // String I/O (rep ins/outs) may arrive as count elements in one exit.
        for (int i = 0; i < exit.Count; i++)
        {
            var element = data.Slice(i * size, size);
            if (exit.IsWrite) _platform.PortWrite(port, element);
            else _platform.PortRead(port, element);
            if (_platform.StopRequest is not null) return;
        }
    }

    private RunOutcome? HandleHalt()
    {
        // No in-kernel LAPIC (and no such thing in the software CPU): the halt is ours to carry
        // out, waiting until an interrupt can wake the guest.
        if (!_vcpu.InterruptFlag)
            return new RunOutcome(RunOutcomeKind.Halted, 0, "guest halted with interrupts disabled");
        while (!_platform.HasPendingInterrupt)
        {
            if (_platform.StopRequest is { } stop) return stop;
            if (!_events.WaitIdle(_platform.NextDeadlineNanoseconds))
                return new RunOutcome(RunOutcomeKind.Halted, 0, "guest halted with interrupts enabled and nothing left to wake it (no timer armed, no more input)");
            if (_events.TakeDue(new StopPoint(ExitCount, StopKind.Exit, _vcpu.InstructionsRetired)) && ServiceAsyncEvents() is { } stopped)
                return stopped;
        }
        return null;
    }
}
