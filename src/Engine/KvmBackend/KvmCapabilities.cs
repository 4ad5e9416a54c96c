using VmReplay.Engine.Backend;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// This host's KVM capabilities, probed once. The VMM picks the best mechanism available and
/// names the missing capability when it cannot go on without one.
/// </summary>
public static class KvmCapabilities
{
    public static HostCapabilities Probe(KvmSystem kvm) => new(
        UserSpaceMsr: kvm.CheckExtension(KvmCap.X86UserSpaceMsr) > 0,
        MsrFilter: kvm.CheckExtension(KvmCap.X86MsrFilter) > 0,
        ReadonlyMemory: kvm.CheckExtension(KvmCap.ReadonlyMem) > 0,
        ImmediateExit: kvm.CheckExtension(KvmCap.ImmediateExit) > 0,
        GuestDebug: kvm.CheckExtension(KvmCap.SetGuestDebug) > 0,
        Xsave: kvm.CheckExtension(KvmCap.Xsave) > 0,
        Xcrs: kvm.CheckExtension(KvmCap.Xcrs) > 0,
        VcpuEvents: kvm.CheckExtension(KvmCap.VcpuEvents) > 0,
        DebugRegs: kvm.CheckExtension(KvmCap.Debugregs) > 0,
        TscControl: kvm.CheckExtension(KvmCap.TscControl) > 0,
        MaxVcpus: Math.Max(1, kvm.CheckExtension(KvmCap.MaxVcpus)));

    /// <summary>Throws <see cref="KvmUnavailableException"/> naming the first capability vmreplay cannot do without.</summary>
    public static void RequireEssentials(this HostCapabilities caps, string path)
    {
        if (!caps.VcpuEvents) Missing(path, "KVM_CAP_VCPU_EVENTS", "interrupt and exception state cannot be saved");
        if (!caps.UserSpaceMsr) Missing(path, "KVM_CAP_X86_USER_SPACE_MSR", "MSR reads cannot reach the VMM to be recorded");
        if (!caps.MsrFilter) Missing(path, "KVM_CAP_X86_MSR_FILTER", "timing MSRs cannot be routed to the VMM");
        if (!caps.ImmediateExit) Missing(path, "KVM_CAP_IMMEDIATE_EXIT", "an I/O instruction cannot be completed before the VMM delivers an interrupt");
    }

    private static void Missing(string path, string cap, string why) =>
        throw new KvmUnavailableException($"{path} lacks {cap}: {why} (Linux 5.10 or later is needed)");
}
