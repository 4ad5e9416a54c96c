using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// Host events from the trace. A service recorded at an exit happens at the same exit. A forced
/// service point is reached with a hardware execution breakpoint at its instruction: at each hit
/// the registers are compared, and when they match, the hash of pages written since the previous
/// service point; the first full match is the point (equal state is an equivalent point). A hit
/// that does not match is stepped over with a single-step, since this host re-fires a breakpoint
/// at the same RIP on re-entry.
/// </summary>
public sealed class ReplayHostEvents(EventCursor events, Vcpu vcpu, DirtyPageTracker dirty) : IHostEvents
{
    private enum DebugMode { Off, Breakpoint, Step, StepAndBreakpoint }

    private DebugMode _mode = DebugMode.Off;
    private ulong _breakpoint;
    private bool _onUnmatchedHit;

    public bool OwnsDebugExits => true;

    public bool AllowsInterruptWindow => false;

    /// <summary>How the last breakpoint hit at the target address differed from the recorded point (for reports).</summary>
    public string? LastMismatch { get; private set; }

    /// <summary>Debug exits taken to find forced points (a measure of replay cost).</summary>
    public long DebugStops { get; private set; }

    /// <summary>
    /// Single-step the guest: every instruction ends in a debug stop (a forced point is still
    /// recognised at the step that reaches it). Used to reach an instruction offset.
    /// </summary>
    public bool SingleStep { get; set; }

    /// <summary>The pages written since the last service point, which a forced point's hash covers.</summary>
    public DirtyPageTracker ServiceTracker => dirty;

    /// <summary>
    /// Whether the last debug stop ended a single step (DR6.BS) rather than hitting the
    /// breakpoint before its instruction ran: only steps count as executed instructions.
    /// </summary>
    public bool LastDebugStopWasStep => (vcpu.Kvm.RunPage.DebugDr6 & (1UL << 14)) != 0;

    /// <summary>After a snapshot was restored: no breakpoint hit is pending.</summary>
    public void Restored() => _onUnmatchedHit = false;

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        if (SingleStep)
        {
            // This host's KVM ends a single-step of CPL3 code in a shutdown exit (see HOST-KVM.md),
            // which would read as a triple fault; say so instead.
            var sregs = vcpu.Kvm.GetSregs();
            if (sregs.Ss.Dpl == 3 && (sregs.Cr0 & 1) != 0)
                throw new HostLimitationException("single-stepping guest code at CPL3 is not available on this host: KVM_GUESTDBG_SINGLESTEP ends in a shutdown exit there");
            // Keep the breakpoint too: a forced point can lie where the guest has not executed
            // anything yet (a kick right after an interrupt was delivered), which no step reaches.
            if (events.Peek() is ForcedServiceEvent next && !_onUnmatchedHit) SetMode(DebugMode.StepAndBreakpoint, next.LinearRip);
            else SetMode(DebugMode.Step, 0);
            _onUnmatchedHit = false;
            return;
        }
        if (events.Peek() is not ForcedServiceEvent f)
        {
            SetMode(DebugMode.Off, 0);
            return;
        }
        SetMode(_onUnmatchedHit ? DebugMode.Step : DebugMode.Breakpoint, f.LinearRip);
        _onUnmatchedHit = false;
    }

    public bool WaitIdle(long? deadlineNanoseconds) => events.Peek() is ServiceEvent;

    public bool TakeDue(StopPoint stop)
    {
        var next = events.Peek();
        if (next is ServiceEvent && stop.Kind == StopKind.Exit)
        {
            events.Advance();
            dirty.Reset();
            return true;
        }
        if (next is ForcedServiceEvent f && stop.Kind == StopKind.Debug)
        {
            DebugStops++;
            var regs = vcpu.Kvm.GetRegs();
            ulong linear = vcpu.WithState(s => s.LinearRip);
            if (linear != f.LinearRip) return false;
            if (f.RegistersMatch(RegisterFile.From(regs)) && dirty.Hash() == f.DirtyHash)
            {
                events.Advance();
                dirty.Reset();
                SetMode(DebugMode.Off, 0);
                return true;
            }
            _onUnmatchedHit = true;
            LastMismatch = RegisterDifference(f.Registers, RegisterFile.From(regs));
        }
        return false;
    }

    private static readonly string[] RegisterNames =
        ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"];

    /// <summary>The registers that differ, recorded and actual.</summary>
    public static string RegisterDifference(ulong[] expected, ulong[] actual) =>
        string.Join(", ", Enumerable.Range(0, expected.Length).Where(i => expected[i] != actual[i])
            .Select(i => $"{RegisterNames[i]} {expected[i]:x} recorded, {actual[i]:x} now"));

    private unsafe void SetMode(DebugMode mode, ulong address)
    {
        if (mode == _mode && address == _breakpoint) return;
        var dbg = new KvmGuestDebug();
        switch (mode)
        {
            case DebugMode.Breakpoint:
                dbg.Control = KvmGuestDebug.Enable | KvmGuestDebug.UseHwBp;
                dbg.DebugReg[0] = address;
                dbg.DebugReg[7] = 0x1; // DR0 local enable, execute, 1 byte
                break;
            case DebugMode.Step:
                dbg.Control = KvmGuestDebug.Enable | KvmGuestDebug.SingleStep;
                break;
            case DebugMode.StepAndBreakpoint:
                dbg.Control = KvmGuestDebug.Enable | KvmGuestDebug.SingleStep | KvmGuestDebug.UseHwBp;
                dbg.DebugReg[0] = address;
                dbg.DebugReg[7] = 0x1;
                break;
        }
        vcpu.Kvm.SetGuestDebug(dbg);
        _mode = mode;
        _breakpoint = address;
    }
}
