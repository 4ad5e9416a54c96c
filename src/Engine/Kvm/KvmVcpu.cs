using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Native;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Kvm;

/// <summary>
/// A KVM vCPU file descriptor and its run page. Thin: every method is one ioctl. Callers
/// must only use the state ioctls while no thread is inside <see cref="Run"/>.
/// </summary>
public sealed unsafe class KvmVcpu : IDisposable
{
    private int _fd;

    internal KvmVcpu(int id, int fd, byte* runPage, int runSize)
    {
        Id = id;
        _fd = fd;
        RunPage = new KvmRun(runPage, runSize);
    }

    public int Id { get; }

    public KvmRun RunPage { get; }

    /// <summary>Result of one KVM_RUN.</summary>
    public enum RunStatus { Exited, Interrupted }

    /// <summary>KVM_RUN. <see cref="RunStatus.Interrupted"/> when a signal or immediate_exit ended it (EINTR).</summary>
    public RunStatus Run()
    {
        if (Libc.Ioctl(_fd, KvmIoctl.Run, 0) == 0) return RunStatus.Exited;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.EINTR || errno == Libc.EAGAIN) return RunStatus.Interrupted;
        throw KvmException.FromErrno($"KVM_RUN on vCPU {Id}", errno);
    }

    public GeneralRegisters GetRegs() { GeneralRegisters r; Call(KvmIoctl.GetRegs, &r, "KVM_GET_REGS"); return r; }
    public void SetRegs(in GeneralRegisters r) { fixed (GeneralRegisters* p = &r) Call(KvmIoctl.SetRegs, p, "KVM_SET_REGS"); }
    public SystemRegisters GetSregs() { SystemRegisters s; Call(KvmIoctl.GetSregs, &s, "KVM_GET_SREGS"); return s; }
    public void SetSregs(in SystemRegisters s) { fixed (SystemRegisters* p = &s) Call(KvmIoctl.SetSregs, p, "KVM_SET_SREGS"); }
    public FpuRegisters GetFpu() { FpuRegisters f; Call(KvmIoctl.GetFpu, &f, "KVM_GET_FPU"); return f; }
    public void SetFpu(in FpuRegisters f) { fixed (FpuRegisters* p = &f) Call(KvmIoctl.SetFpu, p, "KVM_SET_FPU"); }
    public ExtendedControlRegisters GetXcrs() { ExtendedControlRegisters x; Call(KvmIoctl.GetXcrs, &x, "KVM_GET_XCRS"); return x; }
    public void SetXcrs(in ExtendedControlRegisters x) { fixed (ExtendedControlRegisters* p = &x) Call(KvmIoctl.SetXcrs, p, "KVM_SET_XCRS"); }
    public VcpuEventState GetVcpuEvents() { VcpuEventState e; Call(KvmIoctl.GetVcpuEvents, &e, "KVM_GET_VCPU_EVENTS"); return e; }
    public void SetVcpuEvents(in VcpuEventState e) { fixed (VcpuEventState* p = &e) Call(KvmIoctl.SetVcpuEvents, p, "KVM_SET_VCPU_EVENTS"); }
    public DebugRegisters GetDebugRegs() { DebugRegisters d; Call(KvmIoctl.GetDebugRegs, &d, "KVM_GET_DEBUGREGS"); return d; }
    public void SetDebugRegs(in DebugRegisters d) { fixed (DebugRegisters* p = &d) Call(KvmIoctl.SetDebugRegs, p, "KVM_SET_DEBUGREGS"); }
    public void SetGuestDebug(in KvmGuestDebug d) { fixed (KvmGuestDebug* p = &d) Call(KvmIoctl.SetGuestDebug, p, "KVM_SET_GUEST_DEBUG"); }

    public XsaveState GetXsave() { XsaveState x; Call(KvmIoctl.GetXsave, &x, "KVM_GET_XSAVE"); return x; }
    public void SetXsave(in XsaveState x) { fixed (XsaveState* p = &x) Call(KvmIoctl.SetXsave, p, "KVM_SET_XSAVE"); }

    /// <summary>KVM_MP_STATE_*: 0 runnable, 1 uninitialised (waiting for INIT/SIPI), 3 halted.</summary>
    public uint GetMpState() { uint s; Call(KvmIoctl.GetMpState, &s, "KVM_GET_MP_STATE"); return s; }
    public void SetMpState(uint state) => Call(KvmIoctl.SetMpState, &state, "KVM_SET_MP_STATE");

    /// <summary>KVM_INTERRUPT: queues external interrupt <paramref name="vector"/> (only valid when the run page says ready).</summary>
    public void Interrupt(byte vector)
    {
        uint irq = vector;
        Call(KvmIoctl.Interrupt, &irq, "KVM_INTERRUPT");
    }

    /// <summary>KVM_SET_CPUID2.</summary>
    public void SetCpuid(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        int bytes = 8 + entries.Length * sizeof(KvmCpuidEntry2);
        byte* buf = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buf = (uint)entries.Length;
            entries.CopyTo(new Span<KvmCpuidEntry2>(buf + 8, entries.Length));
            Call(KvmIoctl.SetCpuid2, buf, "KVM_SET_CPUID2");
        }
        finally
        {
            NativeMemory.Free(buf);
        }
    }

    /// <summary>KVM_GET_MSRS for <paramref name="entries"/> (indices filled in); returns how many were read.</summary>
    public int GetMsrs(Span<KvmMsrEntry> entries) => MsrIoctl(KvmIoctl.GetMsrs, entries, "KVM_GET_MSRS");

    /// <summary>KVM_SET_MSRS; returns how many were written.</summary>
    public int SetMsrs(Span<KvmMsrEntry> entries) => MsrIoctl(KvmIoctl.SetMsrs, entries, "KVM_SET_MSRS");

    private int MsrIoctl(nuint request, Span<KvmMsrEntry> entries, string name)
    {
        int bytes = 8 + entries.Length * sizeof(KvmMsrEntry);
        byte* buf = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buf = (uint)entries.Length;
            var inBuf = new Span<KvmMsrEntry>(buf + 8, entries.Length);
            entries.CopyTo(inBuf);
            int n = Libc.Ioctl(_fd, request, buf);
            if (n < 0) throw KvmException.FromErrno($"{name} on vCPU {Id}");
            inBuf.CopyTo(entries);
            return n;
        }
        finally
        {
            NativeMemory.Free(buf);
        }
    }

    /// <summary>KVM_SET_SIGNAL_MASK: the signals blocked while this vCPU is inside KVM_RUN (kernel sigset, 64 bits).</summary>
    public void SetSignalMask(ulong blocked)
    {
        byte* buf = stackalloc byte[12];
        *(uint*)buf = 8;
        *(ulong*)(buf + 4) = blocked;
        Call(KvmIoctl.SetSignalMask, buf, "KVM_SET_SIGNAL_MASK");
    }

    private void Call(nuint request, void* arg, string name)
    {
        if (Libc.Ioctl(_fd, request, arg) < 0) throw KvmException.FromErrno($"{name} on vCPU {Id}");
    }

    public void Dispose()
    {
        if (_fd < 0) return;
        Libc.Munmap(RunPage.Page, (nuint)RunPage.Size);
        Libc.Close(_fd);
        _fd = -1;
    }
}
