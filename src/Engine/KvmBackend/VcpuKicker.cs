using VmReplay.Engine.Kvm;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// Forces a vCPU thread out of KVM_RUN from any other thread.
/// <para>
/// A .NET process cannot run managed code in a signal handler, so instead of a handler this
/// uses the kernel's own mechanism (as QEMU does for SIG_IPI): the kick signal stays blocked
/// in the vCPU thread at all times, and KVM_SET_SIGNAL_MASK unblocks it only inside KVM_RUN.
/// A kick sent while the guest runs makes KVM_RUN return EINTR; a kick sent while the thread
/// is in userspace stays pending and makes the next KVM_RUN return at once, which is exactly
/// what <c>immediate_exit</c> would give, with no race between checking a flag and entering.
/// The pending signal is then consumed with sigtimedwait, so no handler ever runs.
/// </para>
/// </summary>
public sealed unsafe class VcpuKicker
{
    private readonly object _lock = new();
    private readonly int _signal;
    private nuint _thread;
    private bool _attached;

    public VcpuKicker()
    {
        // SIGRTMIN is the runtime's own activation signal; keep well clear of it.
        _signal = Libc.CurrentSigRtMin() + 6;
    }

    /// <summary>The signal used for kicks.</summary>
    public int Signal => _signal;

    /// <summary>Binds the kicker to the calling thread, which is about to run <paramref name="vcpu"/>.</summary>
    public void Attach(KvmVcpu vcpu)
    {
        byte* set = stackalloc byte[Libc.GlibcSigsetBytes];
        byte* old = stackalloc byte[Libc.GlibcSigsetBytes];
        new Span<byte>(set, Libc.GlibcSigsetBytes).Clear();
        AddSignal(set);
        if (Libc.PthreadSigmask(Libc.SIG_BLOCK, set, old) != 0) throw new KvmException("pthread_sigmask failed");
        // Inside KVM_RUN: the thread's usual mask without the kick signal.
        ulong runMask = *(ulong*)old & ~(1UL << (_signal - 1));
        vcpu.SetSignalMask(runMask);
        lock (_lock)
        {
            _thread = Libc.PthreadSelf();
            _attached = true;
        }
    }

    /// <summary>Unbinds; later kicks are dropped. Call on the vCPU thread before it ends.</summary>
    public void Detach()
    {
        lock (_lock) _attached = false;
        ConsumePending();
    }

    /// <summary>Makes the attached vCPU leave (or not enter) KVM_RUN soon. Any thread.</summary>
    public void Kick()
    {
        lock (_lock)
        {
            if (_attached) Libc.PthreadKill(_thread, _signal);
        }
    }

    /// <summary>Discards a pending kick. Call on the vCPU thread.</summary>
    public void ConsumePending()
    {
        byte* set = stackalloc byte[Libc.GlibcSigsetBytes];
        byte* info = stackalloc byte[128];
        new Span<byte>(set, Libc.GlibcSigsetBytes).Clear();
        AddSignal(set);
        var zero = new Libc.Timespec();
        while (Libc.SigTimedWait(set, info, &zero) == _signal) { }
    }

    private void AddSignal(byte* set) => ((ulong*)set)[0] |= 1UL << (_signal - 1);
}
