using System.Runtime.InteropServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// One KVM vCPU as a backend vCPU. Its state is reachable only while it is stopped (the Genode
/// <c>Vcpu::with_state</c> pattern): read, handed to the caller, and the parts that changed
/// written back before it runs again. The KVM-specific parts of running a guest live here:
/// kicks by a blocked signal, completing an exit's instruction with immediate_exit, the
/// userspace emulation of instructions this host's KVM cannot execute, and debug registers.
/// </summary>
public sealed class KvmMachineVcpu : IVcpuBackend, IDisposable
{
    private readonly bool _hasXsave, _hasXcrs, _hasEvents, _hasDebugRegs;
    private readonly uint[] _msrs;
    private readonly GuestMemory _memory;
    private readonly VcpuKicker _kicker = new();
    private readonly InstructionEmulator _emulator = new();
    private readonly KvmExit _exit;
    private int _running;
    private DebugSetup _armed = DebugSetup.None;

    internal KvmMachineVcpu(KvmVcpu kvm, KvmSystem system, GuestMemory memory)
    {
        Kvm = kvm;
        _memory = memory;
        _exit = new KvmExit(kvm.RunPage);
        _hasXsave = system.CheckExtension(KvmCap.Xsave) > 0;
        _hasXcrs = system.CheckExtension(KvmCap.Xcrs) > 0;
        _hasEvents = system.CheckExtension(KvmCap.VcpuEvents) > 0;
        _hasDebugRegs = system.CheckExtension(KvmCap.Debugregs) > 0;
        _msrs = VcpuState.TrackedMsrs.Where(IsMsrSupported).ToArray();
    }

    public int Id => Kvm.Id;

    /// <summary>The raw KVM handle.</summary>
    public KvmVcpu Kvm { get; }

    /// <summary>True while a thread is inside KVM_RUN for this vCPU.</summary>
    public bool IsRunning => Volatile.Read(ref _running) != 0;

    public void AttachThread() => _kicker.Attach(Kvm);

    public void DetachThread() => _kicker.Detach();

    public void Kick() => _kicker.Kick();

    public void DiscardKick() => _kicker.ConsumePending();

    public bool InterruptFlag => Kvm.RunPage.IfFlag;

    public bool RequestInterruptWindow
    {
        get => Kvm.RunPage.RequestInterruptWindow;
        set => Kvm.RunPage.RequestInterruptWindow = value;
    }

    public long? InstructionsRetired => null;

    public void RestoreInstructionCount(long count) { }

    // KVM does not count instructions (no PMU on the hosts vmreplay meets): no such stop.
    public void StopAtInstruction(long? count) { }

    /// <summary>DR0-DR3.</summary>
    public int? BreakpointLimit => 4;

    /// <summary>
    /// Data breakpoints in debug registers do not fire on every host (not on this one), and
    /// there are four of them: a replay on KVM finds watched accesses itself.
    /// </summary>
    public bool DataWatchpoints => false;

    public VcpuExit Run()
    {
        var run = Kvm.RunPage;
        KvmVcpu.RunStatus status;
        EnterRun();
        try { status = Kvm.Run(); }
        finally { LeaveRun(); }
        if (status == KvmVcpu.RunStatus.Interrupted)
        {
            _kicker.ConsumePending();
            return _exit.Set(VcpuExitKind.Interrupted);
        }
        switch (run.ExitReason)
        {
            case KvmExitReason.Io: return _exit.SetIo();
            case KvmExitReason.Mmio: return _exit.SetMmio();
            case KvmExitReason.Hlt: return _exit.Set(VcpuExitKind.Halt);
            case KvmExitReason.Shutdown: return _exit.Set(VcpuExitKind.Shutdown);
            case KvmExitReason.Debug: return _exit.Set(VcpuExitKind.Debug);
            case KvmExitReason.IrqWindowOpen: return _exit.Set(VcpuExitKind.InterruptWindow);
            case KvmExitReason.Intr: return _exit.Set(VcpuExitKind.HostInterrupt);
            case KvmExitReason.X86Rdmsr: return _exit.SetMsr(VcpuExitKind.MsrRead);
            case KvmExitReason.X86Wrmsr: return _exit.SetMsr(VcpuExitKind.MsrWrite);
            case KvmExitReason.SystemEvent:
                return run.SystemEventType switch
                {
                    1 => _exit.SetSystemEvent(SystemEventKind.PowerOff, "guest powered off"),
                    2 => _exit.SetSystemEvent(SystemEventKind.Reset, "guest requested a reset (system event); vmreplay ends the VM"),
                    uint t => _exit.SetSystemEvent(SystemEventKind.Other, $"guest system event {t} ({SystemEventName(t)})"),
                };
            case KvmExitReason.FailEntry:
                return _exit.Fail(WithState(s =>
                    $"VM entry failed: hardware entry failure reason {run.FailEntryReason:x} at RIP {s.Regs.Rip:x}, CR0 {s.Sregs.Cr0:x}, CS {s.Sregs.Cs.Selector:x4}"));
            case KvmExitReason.InternalError:
                return InternalError(run);
            default:
                return _exit.Fail(WithState(s =>
                    $"unhandled KVM exit reason {(uint)run.ExitReason} ({run.ExitReason}) at RIP {s.Regs.Rip:x}; hardware reason {run.HardwareExitReason:x}"));
        }
    }

    // KVM_EXIT_INTERNAL_ERROR with sub-error 1 is this host's CPL0 emulator failing on an
    // instruction (README, "Instructions this host's KVM cannot execute"): the VMM executes the
    // ones it knows in userspace, and reports that as an exit of its own so recordings count it.
    private VcpuExit InternalError(KvmRun run)
    {
        uint sub = run.InternalSuberror;
        if (sub == 1)
        {
            var result = WithState(s => _emulator.Emulate(s, _memory));
            if (result.Status != EmulationStatus.NotEmulated) return _exit.Set(VcpuExitKind.EmulatedInstruction);
            string why = result.Reason is null ? "" : $" ({result.Reason})";
            return _exit.Fail($"KVM could not emulate '{result.Instruction}' at RIP {result.Rip:x}{why}");
        }
        var data = string.Join(' ', run.InternalData.ToArray().Select(d => d.ToString("x")));
        ulong rip = WithState(s => s.Regs.Rip);
        return _exit.Fail($"KVM internal error, sub-error {sub} ({InternalErrorName(sub)}) at RIP {rip:x}; data: [{data}]");
    }

    // An I/O, MMIO or MSR exit leaves its instruction unfinished until the next KVM_RUN; re-enter
    // with immediate_exit to complete it without running further (KVM API, "immediate_exit").
    public void CompletePendingInstruction()
    {
        var run = Kvm.RunPage;
        run.ImmediateExit = true;
        EnterRun();
        try { Kvm.Run(); }
        finally
        {
            LeaveRun();
            run.ImmediateExit = false;
        }
    }

    // Deliverability comes from the vCPU state itself, not the run page's if_flag, which is
    // stale after the VMM emulated an instruction (an iret).
    public DeliveryResult TryDeliverInterrupt(Func<byte> acknowledge) => WithState(s =>
    {
        if (!Emulation.InterruptDelivery.CanDeliver(s)) return DeliveryResult.NotNow;
        byte vector = acknowledge();
        string? failure = Emulation.InterruptDelivery.Deliver(s, _memory, vector);
        return failure is null ? DeliveryResult.Done : DeliveryResult.Failed(failure);
    });

    public GeneralRegisters ReadRegisters() => Kvm.GetRegs();

    public SystemRegisters ReadSystemRegisters() => Kvm.GetSregs();

    public DebugExitCause LastDebugStop
    {
        get
        {
            ulong dr6 = Kvm.RunPage.DebugDr6;
            return new DebugExitCause((dr6 & (1UL << 14)) != 0, dr6 & 0xF);
        }
    }

    public unsafe void SetDebug(DebugSetup setup)
    {
        if (setup.Breakpoints.Count > 4) throw new HostLimitationException("at most 4 execution breakpoints: they are debug registers DR0-DR3");
        if (setup.WatchList.Count > 0) throw new HostLimitationException("data watchpoints are not available on KVM (see DataWatchpoints)");
        if (setup.SingleStep)
        {
            var sregs = Kvm.GetSregs();
            // This host's KVM ends a single-step of CPL3 code in a shutdown exit (see HOST-KVM.md),
            // which would read as a triple fault; say so instead.
            if (sregs.Ss.Dpl == 3 && (sregs.Cr0 & 1) != 0)
                throw new HostLimitationException("single-stepping guest code at CPL3 is not available on this host: KVM_GUESTDBG_SINGLESTEP ends in a shutdown exit there");
        }
        if (setup.SingleStep == _armed.SingleStep && setup.Breakpoints.SequenceEqual(_armed.Breakpoints)) return;
        var dbg = new KvmGuestDebug();
        if (!setup.IsEmpty)
        {
            dbg.Control = KvmGuestDebug.Enable;
            if (setup.SingleStep) dbg.Control |= KvmGuestDebug.SingleStep;
            ulong dr7 = 0;
            for (int i = 0; i < setup.Breakpoints.Count; i++)
            {
                if (setup.Breakpoints[i] is not { } address) continue;
                dbg.DebugReg[i] = address;
                dr7 |= 1UL << (2 * i); // local enable, execute, 1 byte
            }
            if (dr7 != 0) dbg.Control |= KvmGuestDebug.UseHwBp;
            dbg.DebugReg[7] = dr7;
        }
        Kvm.SetGuestDebug(dbg);
        _armed = setup with { Breakpoints = setup.Breakpoints.ToArray() };
    }

    private void EnterRun()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
            throw new InvalidOperationException($"vCPU {Id} is already running");
    }

    private void LeaveRun() => Volatile.Write(ref _running, 0);

    /// <summary>Gives <paramref name="action"/> the full state of this stopped vCPU and writes back what it changed.</summary>
    public void WithState(Action<VcpuState> action) => WithState(s => { action(s); return 0; });

    public T WithState<T>(Func<VcpuState, T> action)
    {
        if (IsRunning) throw new InvalidOperationException($"vCPU {Id} state requested while it runs");
        var state = Read();
        var before = Read();
        T result = action(state);
        Write(state, before);
        return result;
    }

    public VcpuState CaptureState()
    {
        if (IsRunning) throw new InvalidOperationException($"vCPU {Id} state requested while it runs");
        return Read();
    }

    public void RestoreState(VcpuState state)
    {
        if (IsRunning) throw new InvalidOperationException($"vCPU {Id} state restored while it runs");
        Write(state, Read());
    }

    private VcpuState Read()
    {
        var s = new VcpuState
        {
            Regs = Kvm.GetRegs(),
            Sregs = Kvm.GetSregs(),
            Fpu = Kvm.GetFpu(),
            MpState = Kvm.GetMpState(),
        };
        if (_hasXsave) s.Xsave = XsaveArea.Canonical(Kvm.GetXsave());
        if (_hasXcrs) s.Xcrs = Kvm.GetXcrs();
        if (_hasEvents) s.Events = Kvm.GetVcpuEvents();
        if (_hasDebugRegs) s.DebugRegs = Kvm.GetDebugRegs();
        if (_msrs.Length > 0)
        {
            Span<KvmMsrEntry> e = stackalloc KvmMsrEntry[_msrs.Length];
            for (int i = 0; i < _msrs.Length; i++) e[i].Index = _msrs[i];
            int n = Kvm.GetMsrs(e);
            for (int i = 0; i < n; i++) s.Msrs[e[i].Index] = e[i].Data;
        }
        return s;
    }

    // Order as QEMU's kvm_arch_put_registers: general registers, FPU/XSAVE, XCRs, segment and
    // control registers, MSRs, MP state, then events (a pending exception's meaning depends on
    // the mode the sregs establish) and debug registers last.
    private void Write(VcpuState s, VcpuState before)
    {
        if (Differs(s.Regs, before.Regs)) Kvm.SetRegs(s.Regs);
        if (_hasXsave) { if (Differs(s.Xsave, before.Xsave)) Kvm.SetXsave(s.Xsave); }
        else if (Differs(s.Fpu, before.Fpu)) Kvm.SetFpu(s.Fpu);
        if (_hasXcrs && Differs(s.Xcrs, before.Xcrs)) Kvm.SetXcrs(s.Xcrs);
        if (Differs(s.Sregs, before.Sregs)) Kvm.SetSregs(s.Sregs);
        var changed = s.Msrs.Where(kv => !before.Msrs.TryGetValue(kv.Key, out var old) || old != kv.Value).ToArray();
        if (changed.Length > 0)
        {
            var e = changed.Select(kv => new KvmMsrEntry { Index = kv.Key, Data = kv.Value }).ToArray();
            if (Kvm.SetMsrs(e) != e.Length) throw new KvmException($"KVM_SET_MSRS on vCPU {Id} refused an MSR");
        }
        if (s.MpState != before.MpState) Kvm.SetMpState(s.MpState);
        if (_hasEvents && Differs(s.Events, before.Events)) Kvm.SetVcpuEvents(s.Events);
        if (_hasDebugRegs && Differs(s.DebugRegs, before.DebugRegs)) Kvm.SetDebugRegs(s.DebugRegs);
    }

    private bool IsMsrSupported(uint index)
    {
        Span<KvmMsrEntry> e = [new KvmMsrEntry { Index = index }];
        return Kvm.GetMsrs(e) == 1;
    }

    private static bool Differs<T>(in T a, in T b) where T : unmanaged =>
        !MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));

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

    public void Dispose() => Kvm.Dispose();

    /// <summary>An exit as the run page describes it: port and MMIO data live in the page itself.</summary>
    private sealed class KvmExit(KvmRun run) : VcpuExit
    {
        public override Span<byte> Data => Kind switch
        {
            VcpuExitKind.PortIo => run.IoData,
            VcpuExitKind.Mmio => run.MmioData,
            _ => Span<byte>.Empty,
        };

        public override ulong MsrData
        {
            get => run.MsrData;
            set => run.MsrData = value;
        }

        public override bool MsrFailed
        {
            get => run.MsrError;
            set => run.MsrError = value;
        }

        public VcpuExit Set(VcpuExitKind kind)
        {
            Kind = kind;
            Message = null;
            return this;
        }

        public VcpuExit SetIo()
        {
            Set(VcpuExitKind.PortIo);
            Port = run.IoPort;
            Size = run.IoSize;
            Count = run.IoCount;
            IsWrite = run.IoIsOut;
            return this;
        }

        public VcpuExit SetMmio()
        {
            Set(VcpuExitKind.Mmio);
            Address = run.MmioAddress;
            Size = run.MmioLength;
            Count = 1;
            IsWrite = run.MmioIsWrite;
            return this;
        }

        public VcpuExit SetMsr(VcpuExitKind kind)
        {
            Set(kind);
            MsrIndex = run.MsrIndex;
            IsWrite = kind == VcpuExitKind.MsrWrite;
            return this;
        }

        public VcpuExit SetSystemEvent(SystemEventKind kind, string message)
        {
            Set(VcpuExitKind.SystemEvent);
            SystemEvent = kind;
            Message = message;
            return this;
        }

        public VcpuExit Fail(string message)
        {
            Set(VcpuExitKind.Failed);
            Message = message;
            return this;
        }
    }
}
