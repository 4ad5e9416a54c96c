using VmReplay.Engine.Cpu;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Run;

/// <summary>
/// The run loop of one vCPU: enters the guest, handles every exit, delivers interrupts from the
/// platform's controller with KVM_INTERRUPT at points the VMM chooses, and services timers and
/// input only between KVM_RUN calls. Returns how the run ended; a guest's misbehaviour is an
/// outcome, never an exception.
/// </summary>
public sealed class VcpuRunner
{
    private readonly VirtualMachine _vm;
    private readonly Vcpu _vcpu;
    private readonly IMachinePlatform _platform;
    private readonly IEngineClock _clock;
    private readonly IHostEvents _events;
    private readonly MsrModel _msrs;
    private readonly VcpuKicker _kicker;
    private readonly InstructionEmulator _emulator = new();

    public VcpuRunner(VirtualMachine vm, Vcpu vcpu, IMachinePlatform platform, IEngineClock clock, IHostEvents events, VcpuKicker kicker)
    {
        _vm = vm;
        _vcpu = vcpu;
        _platform = platform;
        _clock = clock;
        _events = events;
        _kicker = kicker;
        _msrs = new MsrModel(clock);
    }

    /// <summary>Called after every exit with the vCPU stopped (for --trace-exits and, later, recording).</summary>
    public Action<Vcpu, KvmRun>? ExitObserver { get; set; }

    /// <summary>Exits handled so far.</summary>
    public long ExitCount { get; private set; }

    /// <summary>Checked at every stop: a reason to end the run that comes from outside the machine (a failed trace writer).</summary>
    public Func<RunOutcome?>? AbortCheck { get; set; }

    /// <summary>Where to hand over a whole machine state (snapshots, their verification).</summary>
    public IRunCheckpoints? Checkpoints { get; set; }

    /// <summary>
    /// Asked once at every stop before anything is serviced: when true, the run completes the
    /// pending instruction and returns <see cref="RunOutcome.Paused"/>; calling <see cref="Run"/>
    /// again continues from that same stop without asking again.
    /// </summary>
    public Func<StopPoint, bool>? PauseRequested { get; set; }

    private bool _resumingFromPause;
    private bool _resumingAfterDelivery;

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
    /// The reason of the last exit handled. The run page's own field does not keep it: completing
    /// the exit's instruction (immediate_exit) overwrites it.
    /// </summary>
    public KvmExitReason LastExitReason { get; private set; }

    /// <summary>External interrupts the VMM delivered.</summary>
    public long InterruptsDelivered { get; private set; }

    /// <summary>Instructions the VMM emulated because KVM could not.</summary>
    public long EmulatedInstructions { get; private set; }

    /// <summary>The counters that belong to a machine state, as saved in a snapshot.</summary>
    public RunnerCounters Counters => new(ExitCount, InterruptsDelivered, EmulatedInstructions);

    /// <summary>
    /// Continues from a restored snapshot taken at the checkpoint after exit
    /// <see cref="RunnerCounters.ExitCount"/>; that checkpoint is not reported again.
    /// </summary>
    public void RestoreCounters(RunnerCounters c)
    {
        ExitCount = c.ExitCount;
        InterruptsDelivered = c.InterruptsDelivered;
        EmulatedInstructions = c.EmulatedInstructions;
        _lastStop = StopKind.Exit;
        // The restored stop is a checkpoint, its instruction complete: no exit has been handled
        // since, and an observer must not take the exit before the restore for this one.
        LastExitReason = KvmExitReason.Unknown;
        _checkpointDone = c.ExitCount;
        _resumingFromPause = false;
        _resumingAfterDelivery = false;
    }

    /// <summary>Runs until the machine stops or pauses. Must be called on the thread that will own the vCPU.</summary>
    public RunOutcome Run()
    {
        var kvm = _vcpu.Kvm;
        var run = kvm.RunPage;
        _kicker.Attach(kvm);
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
                if (AbortCheck?.Invoke() is { } abort) return abort;
                if (_lastStop == StopKind.Exit && _checkpointDone != ExitCount && Checkpoints is { } checkpoints && checkpoints.IsDue(ExitCount))
                {
                    _checkpointDone = ExitCount;
                    CompletePendingInstruction(run);
                    checkpoints.Reached(ExitCount);
                }
                if (!_resumingFromPause && CompleteBeforePause && _lastStop == StopKind.Exit) CompletePendingInstruction(run);
                if (!_resumingFromPause && PauseRequested?.Invoke(new StopPoint(ExitCount, _lastStop)) == true)
                {
                    CompletePendingInstruction(run);
                    _resumingFromPause = true;
                    return RunOutcome.Paused;
                }
                _resumingFromPause = false;
                // A kick that lands where the guest cannot take an interrupt (IF clear) leaves the
                // due work for the next exit or a later kick: serviced there, it would change
                // nothing the guest can see, yet a recording would have to log a point that no
                // exit marks, in code that often computes on unrecordable values (an entropy
                // pool mixed with interrupts off).
                bool deferred = _lastStop == StopKind.Interrupted && !run.IfFlag;
                bool serviced = !deferred && _events.TakeDue(new StopPoint(ExitCount, _lastStop));
                if (serviced) ServiceAsyncEvents();
                // Where a replay must reproduce delivery, deliver only at exits and at service
                // points the host-events source logged; anywhere else the point is not recorded.
                if (_lastStop == StopKind.Exit || serviced || _events.AllowsInterruptWindow)
                {
                    long before = InterruptsDelivered;
                    if (DeliverInterrupt(run) is { } failed) return failed;
                    if (InterruptsDelivered != before && PauseAfterDelivery
                        && PauseRequested?.Invoke(new StopPoint(ExitCount, StopKind.Delivered)) == true)
                    {
                        _resumingAfterDelivery = true;
                        return RunOutcome.Paused;
                    }
                }
            enter:
                _events.Arm(_platform.NextDeadlineNanoseconds, _platform.HasPendingInterrupt && !run.RequestInterruptWindow);

                _vcpu.EnterRun();
                KvmVcpu.RunStatus status;
                try { status = kvm.Run(); }
                finally { _vcpu.LeaveRun(); }
                if (status == KvmVcpu.RunStatus.Interrupted)
                {
                    _kicker.ConsumePending();
                    _lastStop = StopKind.Interrupted;
                    continue;
                }
                if (run.ExitReason == KvmExitReason.Debug && _events.OwnsDebugExits)
                {
                    _lastStop = StopKind.Debug;
                    continue;
                }
                if (run.ExitReason == KvmExitReason.IrqWindowOpen)
                {
                    _lastStop = StopKind.Window;
                    continue;
                }
                ExitCount++;
                _lastStop = StopKind.Exit;
                LastExitReason = run.ExitReason;
                var outcome = HandleExit(run);
                ExitObserver?.Invoke(_vcpu, run);
                if (outcome is not null) return outcome;
            }
        }
        finally
        {
            _kicker.Detach();
        }
    }

    private void ServiceAsyncEvents()
    {
        _platform.AdvanceTo(_clock.ReadNanoseconds());
        _platform.PollInput();
    }

    // The VMM delivers interrupts itself, at the exact instruction boundary where it stops the
    // vCPU (KVM_INTERRUPT leaves the moment to KVM, which on some hosts lets the guest run on
    // first). When the guest cannot take one now, ask KVM for an exit at the next interrupt
    // window instead of dropping or spinning. Deliverability comes from the vCPU state itself, not
    // the run page's if_flag, which is stale after the VMM emulated an instruction (an iret).
    private RunOutcome? DeliverInterrupt(KvmRun run)
    {
        if (!_platform.HasPendingInterrupt)
        {
            run.RequestInterruptWindow = false;
            return null;
        }
        bool mayWait = _events.AllowsInterruptWindow;
        CompletePendingInstruction(run);
        string? failure = null;
        bool delivered = _vcpu.WithState(s =>
        {
            if (!InterruptDelivery.CanDeliver(s)) return false;
            byte vector = _platform.AcknowledgeInterrupt();
            failure = InterruptDelivery.Deliver(s, _vm.Memory, vector);
            return failure is null;
        });
        if (failure is not null) return RunOutcome.Error($"cannot deliver an interrupt: {failure}");
        if (delivered) InterruptsDelivered++;
        run.RequestInterruptWindow = mayWait && (!delivered || _platform.HasPendingInterrupt);
        return null;
    }

    // An I/O, MMIO or MSR exit leaves its instruction unfinished until the next KVM_RUN; re-enter
    // with immediate_exit to complete it without running further (KVM API, "immediate_exit"), so
    // an interrupt is delivered, or a state saved, at a clean instruction boundary.
    private void CompletePendingInstruction(KvmRun run)
    {
        run.ImmediateExit = true;
        _vcpu.EnterRun();
        try { _vcpu.Kvm.Run(); }
        finally
        {
            _vcpu.LeaveRun();
            run.ImmediateExit = false;
        }
    }

    private RunOutcome? HandleExit(KvmRun run)
    {
        switch (run.ExitReason)
        {
            case KvmExitReason.Io:
                HandleIo(run);
                return null;
            case KvmExitReason.Mmio:
                if (run.MmioIsWrite) _platform.MmioWrite(run.MmioAddress, run.MmioData);
                else _platform.MmioRead(run.MmioAddress, run.MmioData);
                return null;
            case KvmExitReason.Intr:
                return null;
            case KvmExitReason.Hlt:
                return HandleHalt(run);
            case KvmExitReason.X86Rdmsr:
                if (_msrs.TryRead(run.MsrIndex, out ulong value)) run.MsrData = value;
                else run.MsrError = true;
                return null;
            case KvmExitReason.X86Wrmsr:
                if (!_msrs.TryWrite(run.MsrIndex, run.MsrData)) run.MsrError = true;
                return null;
            case KvmExitReason.Shutdown:
                return _vcpu.WithState(s => new RunOutcome(RunOutcomeKind.TripleFault, 2,
                    $"triple fault (KVM exit SHUTDOWN) at RIP {s.Regs.Rip:x}, CR0 {s.Sregs.Cr0:x}, CS {s.Sregs.Cs.Selector:x4} (base {s.Sregs.Cs.Base:x})"));
            case KvmExitReason.FailEntry:
                return _vcpu.WithState(s => RunOutcome.Error(
                    $"VM entry failed: hardware entry failure reason {run.FailEntryReason:x} at RIP {s.Regs.Rip:x}, CR0 {s.Sregs.Cr0:x}, CS {s.Sregs.Cs.Selector:x4}"));
            case KvmExitReason.InternalError:
                return HandleInternalError(run);
            case KvmExitReason.SystemEvent:
                return run.SystemEventType switch
                {
                    1 => new RunOutcome(RunOutcomeKind.PowerOff, 0, "guest powered off"),
                    2 => new RunOutcome(RunOutcomeKind.Reset, 0, "guest requested a reset (system event); vmreplay ends the VM"),
                    uint t => RunOutcome.Error($"guest system event {t} ({SystemEventName(t)})"),
                };
            case KvmExitReason.Debug:
                return RunOutcome.Error($"unexpected debug exit (exception {run.DebugException}) at RIP {run.DebugPc:x}: no debugger is attached");
            default:
                return _vcpu.WithState(s => RunOutcome.Error(
                    $"unhandled KVM exit reason {(uint)run.ExitReason} ({run.ExitReason}) at RIP {s.Regs.Rip:x}; hardware reason {run.HardwareExitReason:x}"));
        }
    }

    private void HandleIo(KvmRun run)
    {
        var data = run.IoData;
        int size = run.IoSize;
        ushort port = run.IoPort;
        // String I/O (rep ins/outs) arrives as count elements in one exit.
        for (int i = 0; i < run.IoCount; i++)
        {
            var element = data.Slice(i * size, size);
            if (run.IoIsOut) _platform.PortWrite(port, element);
            else _platform.PortRead(port, element);
            if (_platform.StopRequest is not null) return;
        }
    }

    private RunOutcome? HandleHalt(KvmRun run)
    {
        // Without an in-kernel LAPIC, KVM returns on HLT and resumes after it on the next
        // KVM_RUN, so the halt is ours to carry out: wait until an interrupt can wake the guest.
        if (!run.IfFlag)
            return new RunOutcome(RunOutcomeKind.Halted, 0, "guest halted with interrupts disabled");
        while (!_platform.HasPendingInterrupt)
        {
            if (_platform.StopRequest is { } stop) return stop;
            if (!_events.WaitIdle(_platform.NextDeadlineNanoseconds))
                return new RunOutcome(RunOutcomeKind.Halted, 0, "guest halted with interrupts enabled and nothing left to wake it (no timer armed, no more input)");
            if (_events.TakeDue(new StopPoint(ExitCount, StopKind.Exit))) ServiceAsyncEvents();
        }
        return null;
    }

    private RunOutcome? HandleInternalError(KvmRun run)
    {
        uint sub = run.InternalSuberror;
        if (sub == 1) // KVM_INTERNAL_ERROR_EMULATION
        {
            var result = _vcpu.WithState(s => _emulator.Emulate(s, _vm.Memory));
            if (result.Status != EmulationStatus.NotEmulated)
            {
                EmulatedInstructions++;
                return null;
            }
            string why = result.Reason is null ? "" : $" ({result.Reason})";
            return RunOutcome.Error($"KVM could not emulate '{result.Instruction}' at RIP {result.Rip:x}{why}");
        }
        var data = string.Join(' ', run.InternalData.ToArray().Select(d => d.ToString("x")));
        ulong rip = _vcpu.WithState(s => s.Regs.Rip);
        return RunOutcome.Error($"KVM internal error, sub-error {sub} ({InternalErrorName(sub)}) at RIP {rip:x}; data: [{data}]");
    }

    private static string InternalErrorName(uint sub) => sub switch
    {
        1 => "emulation failure",
        2 => "simultaneous exceptions",
        3 => "event delivery failed",
        4 => "unexpected exit reason",
        _ => "unknown",
    };

    private static string SystemEventName(uint type) => type switch
    {
        3 => "crash",
        4 => "wakeup",
        5 => "suspend",
        6 => "SEV termination",
        _ => "unknown",
    };
}
