using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Backend;

/// <summary>
/// What executes a guest: guest RAM, the dirty-page log and the vCPUs, behind one interface so
/// the devices, the recorder, the replayer and the debugger work the same on every backend.
/// Two exist: KVM (<c>Engine/Kvm</c>, the fast path where /dev/kvm is usable) and the software
/// CPU (<c>Engine/SoftCpu</c>, everywhere). Everything a backend does to work around its host
/// stays behind this interface.
/// </summary>
public interface IMachineBackend : IDisposable
{
    /// <summary>Which backend this is.</summary>
    CpuBackendKind Kind { get; }

    /// <summary>Guest RAM in the PC layout.</summary>
    GuestMemory Memory { get; }

    /// <summary>The pages written (by the guest and by the VMM), when the machine was created with dirty logging; else null.</summary>
    DirtyLog? DirtyLog { get; }

    IReadOnlyList<IVcpuBackend> Vcpus { get; }

    /// <summary>The CPUID leaves the guest sees (a recording stores them).</summary>
    IReadOnlyList<CpuidEntry> CpuModel { get; }

    /// <summary>
    /// A one-line warning when the guest sees CPU features the model hides (a KVM host that
    /// ignores part of KVM_SET_CPUID2), or null. May take a moment (it may run a probe guest).
    /// </summary>
    string? CheckCpuModel();

    /// <summary>Facts about the host a recording keeps beside the CPU model (KVM capabilities), or null.</summary>
    object? HostFacts { get; }

    /// <summary>
    /// Starts a copy of <paramref name="pages"/> (ascending) as they are now, made as each is
    /// about to be written or when completed (<see cref="LazyPageCopy"/>); null where the backend
    /// cannot see every guest write before it happens (a hardware vCPU writes RAM directly), and
    /// the pages must be copied at once. Called with the vCPUs stopped.
    /// </summary>
    LazyPageCopy? CopyPagesLazily(ulong[] pages) => null;
}

/// <summary>One CPUID leaf of a CPU model.</summary>
public readonly record struct CpuidEntry(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx);
