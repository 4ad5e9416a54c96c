namespace VmReplay.Engine.Backend;

/// <summary>Settings of a machine, whatever its backend.</summary>
public sealed record MachineBackendOptions
{
    /// <summary>Guest RAM in bytes.</summary>
    public ulong MemorySize { get; init; } = 64UL * 1024 * 1024;

    /// <summary>Number of vCPUs. vCPU 0 boots; the others wait for INIT/SIPI.</summary>
    public int VcpuCount { get; init; } = 1;

    /// <summary>Keep a log of the pages the guest writes, for recording and replay.</summary>
    public bool DirtyLogging { get; init; }

    /// <summary>
    /// The CPUID leaves the guest must see (a replay gives the recorded model back); null: the
    /// backend's own model. A backend that cannot present it refuses with one line.
    /// </summary>
    public IReadOnlyList<CpuidEntry>? CpuModel { get; init; }

    /// <summary>
    /// Leaves the recorded guest read otherwise than <see cref="CpuModel"/> says, as it read them
    /// (a KVM host that did not apply the model to them), or null. The software CPU answers with
    /// these over the model; KVM is given the model, as the recording's KVM was.
    /// </summary>
    public IReadOnlyList<CpuidEntry>? CpuidSeen { get; init; }

    /// <summary>
    /// Replaying a KVM recording made before 2026-12-04, when KVM answered every MSR but the
    /// clock-derived ones itself (with its own values): KVM does so again, so that the guest
    /// makes the exits it made then. The software CPU ignores it.
    /// </summary>
    public bool KvmAnswersMostMsrs { get; init; }

    /// <summary>
    /// Replaying a software-CPU recording made before 2026-12-04, when an MSR access the VMM
    /// refused did not raise #GP: the software CPU behaves so again (see
    /// <see cref="SoftCpu.Processor.RefusedMsrsFault"/>). KVM ignores it.
    /// </summary>
    public bool RefusedMsrsDoNotFault { get; init; }

    /// <summary>
    /// RDTSC values were not recorded (a recording made on KVM): the software CPU then answers
    /// RDTSC itself, deterministically, instead of asking the VMM (whose answer would be an
    /// exit the recording does not have).
    /// </summary>
    public bool TscUnrecorded { get; init; }
}
