using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;

namespace VmReplay.Engine.Vm;

/// <summary>
/// One virtual CPU. Its state is reachable only through <see cref="WithState"/> while it is
/// stopped (the Genode <c>Vcpu::with_state</c> pattern): the state is read, handed to the
/// caller, and the parts that changed are written back before the vCPU runs again.
/// </summary>
public sealed class Vcpu : IDisposable
{
    private readonly bool _hasXsave, _hasXcrs, _hasEvents, _hasDebugRegs;
    private readonly uint[] _msrs;
    private int _running;

    internal Vcpu(KvmVcpu kvm, KvmSystem system)
    {
        Kvm = kvm;
        _hasXsave = system.CheckExtension(KvmCap.Xsave) > 0;
        _hasXcrs = system.CheckExtension(KvmCap.Xcrs) > 0;
        _hasEvents = system.CheckExtension(KvmCap.VcpuEvents) > 0;
        _hasDebugRegs = system.CheckExtension(KvmCap.Debugregs) > 0;
        _msrs = VcpuState.TrackedMsrs.Where(IsMsrSupported).ToArray();
    }

    public int Id => Kvm.Id;

    /// <summary>The raw KVM handle, for the run loop.</summary>
    public KvmVcpu Kvm { get; }

    /// <summary>True while a thread is inside KVM_RUN for this vCPU.</summary>
    public bool IsRunning => Volatile.Read(ref _running) != 0;

    internal void EnterRun()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
            throw new InvalidOperationException($"vCPU {Id} is already running");
    }

    internal void LeaveRun() => Volatile.Write(ref _running, 0);

    /// <summary>
    /// Gives <paramref name="action"/> the full state of this stopped vCPU and writes back what
    /// it changed. Throws if the vCPU is running.
    /// </summary>
    public void WithState(Action<VcpuState> action) => WithState(s => { action(s); return 0; });

    /// <inheritdoc cref="WithState(Action{VcpuState})"/>
    public T WithState<T>(Func<VcpuState, T> action)
    {
        if (IsRunning) throw new InvalidOperationException($"vCPU {Id} state requested while it runs");
        var state = Read();
        var before = Read();
        T result = action(state);
        Write(state, before);
        return result;
    }

    /// <summary>A copy of the complete state of this stopped vCPU (for a snapshot).</summary>
    public VcpuState CaptureState()
    {
        if (IsRunning) throw new InvalidOperationException($"vCPU {Id} state requested while it runs");
        return Read();
    }

    /// <summary>Makes this stopped vCPU's state <paramref name="state"/> (restoring a snapshot).</summary>
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

    public void Dispose() => Kvm.Dispose();
}
