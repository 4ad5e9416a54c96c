using VmReplay.Engine.Kvm;
using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Engine.Backend;

/// <summary>
/// The backend a command will run on, decided before any machine exists, with what a recording
/// stores about it: the CPU model the guest will see, the leaves it will read otherwise than the
/// model says (a KVM host that does not apply the model to some leaves: <see cref="CpuidSeen"/>),
/// and the host's KVM capabilities (KVM only).
/// </summary>
public sealed record BackendProfile(CpuBackendKind Kind, IReadOnlyList<CpuidEntry> CpuModel, HostCapabilities? HostCapabilities, string? Note)
{
    /// <summary>The leaves a guest on this backend reads otherwise than <see cref="CpuModel"/>, as it reads them; empty where it sees the model.</summary>
    public IReadOnlyList<CpuidEntry> CpuidSeen { get; init; } = [];

    /// <summary>
    /// Decides the backend for <paramref name="choice"/>: auto takes KVM when <paramref name="kvmPath"/>
    /// opens, has what vmreplay needs and runs on hardware virtualization, else the software CPU,
    /// with the reason in <see cref="Note"/>.
    /// Throws <see cref="BackendUnavailableException"/> when KVM was asked for and is not usable.
    /// </summary>
    public static BackendProfile Decide(CpuBackendChoice choice, string kvmPath, int vcpuCount)
    {
        if (choice == CpuBackendChoice.Soft) return Soft(null);
        if (choice == CpuBackendChoice.Auto && HardwareVirtualization.WhyAutoPassesOver(kvmPath) is { } slow) return Soft(slow);
        try
        {
            using var kvm = KvmSystem.Open(kvmPath);
            var caps = KvmCapabilities.Probe(kvm);
            caps.RequireEssentials(kvm.Path);
            var model = KvmBackend.CpuModel.Build(kvm.GetSupportedCpuid(), 0, vcpuCount)
                .Select(e => new CpuidEntry(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)).ToArray();
            return new BackendProfile(CpuBackendKind.Kvm, model, caps, null) { CpuidSeen = SeenOn(kvm) };
        }
        catch (KvmUnavailableException e) when (choice == CpuBackendChoice.Auto)
        {
            return Soft(e.Message);
        }
        catch (KvmUnavailableException e)
        {
            throw new BackendUnavailableException($"--cpu kvm: {e.Message}", e);
        }
    }

    // A probe that fails is reported when the machine's model is checked (CheckCpuModel).
    private static CpuidEntry[] SeenOn(KvmSystem kvm)
    {
        try
        {
            return CpuidProbe.Run(kvm).LeavesSeen.Select(e => new CpuidEntry(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)).ToArray();
        }
        catch (KvmException)
        {
            return [];
        }
    }

    private static BackendProfile Soft(string? why) =>
        new(CpuBackendKind.Soft, SoftCpuModel.Build().Entries, null, why);

    /// <summary>The choice that builds exactly this backend.</summary>
    public CpuBackendChoice Choice => Kind == CpuBackendKind.Kvm ? CpuBackendChoice.Kvm : CpuBackendChoice.Soft;

    /// <summary>One line for stderr: which backend runs, and why auto did not take KVM.</summary>
    public string Describe() => Kind == CpuBackendKind.Kvm
        ? "cpu: kvm"
        : Note is null ? "cpu: soft (the software x86 CPU)" : $"cpu: soft (the software x86 CPU; KVM is not usable here: {Note})";
}
