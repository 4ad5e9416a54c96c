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
    private enum DebugMode { Off, Breakpoint, Step }

    private DebugMode _mode = DebugMode.Off;
    private ulong _breakpoint;
    private bool _onUnmatchedHit;

    public bool OwnsDebugExits => true;

    public bool AllowsInterruptWindow => false;

    /// <summary>How the last breakpoint hit at the target address differed from the recorded point (for reports).</summary>
    public string? LastMismatch { get; private set; }

    /// <summary>Debug exits taken to find forced points (a measure of replay cost).</summary>
    public long DebugStops { get; private set; }

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
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
            ulong linear = vcpu.WithState(s => s.Is64BitMode ? s.Regs.Rip : (s.Sregs.Cs.Base + s.Regs.Rip) & 0xFFFF_FFFF);
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
        }
        vcpu.Kvm.SetGuestDebug(dbg);
        _mode = mode;
        _breakpoint = address;
    }
}
