using VmReplay.Engine.Backend;

namespace VmReplay.Devices.Platform;

/// <summary>Settings of a PC machine.</summary>
public sealed record PcMachineOptions
{
    public ulong MemorySize { get; init; } = 64UL << 20;
    public int VcpuCount { get; init; } = 1;
    public string Cmdline { get; init; } = "";
    /// <summary>Initial ramdisk for a Linux kernel; null or empty is none.</summary>
    public byte[]? Initrd { get; init; }
    /// <summary>Where engine time comes from in a live run (virtual: the software CPU only).</summary>
    public Engine.Determinism.ClockMode Clock { get; init; } = Engine.Determinism.ClockMode.Host;
    /// <summary>Which CPU backend runs the guest.</summary>
    public CpuBackendChoice Cpu { get; init; } = CpuBackendChoice.Auto;
    /// <summary>The KVM device, where the KVM backend is used.</summary>
    public string KvmPath { get; init; } = MachineBackends.DefaultKvmDevice;
    /// <summary>The CPUID leaves the guest must see (a replay's recorded model); null: the backend's own.</summary>
    public IReadOnlyList<Engine.Backend.CpuidEntry>? CpuModel { get; init; }

    /// <summary>Leaves the recorded guest read otherwise than <see cref="CpuModel"/> (<see cref="Engine.Backend.MachineBackendOptions.CpuidSeen"/>), or null.</summary>
    public IReadOnlyList<Engine.Backend.CpuidEntry>? CpuidSeen { get; init; }

    /// <summary>See <see cref="Engine.Backend.MachineBackendOptions.KvmAnswersMostMsrs"/>.</summary>
    public bool KvmAnswersMostMsrs { get; init; }

    /// <summary>See <see cref="Engine.Backend.MachineBackendOptions.RefusedMsrsDoNotFault"/>.</summary>
    public bool RefusedMsrsDoNotFault { get; init; }
    /// <summary>RDTSC values were never recorded (a KVM recording replayed on the software CPU).</summary>
    public bool TscUnrecorded { get; init; }
    /// <summary>The software CPU stops the run after this many instructions (a runaway guest); no limit by default.</summary>
    public long? MaxInstructions { get; init; }
    /// <summary>File the guest reads from COM1; null reads the host's stdin.</summary>
    public string? SerialInputFile { get; init; }
    /// <summary>Where COM1 output goes; null is stdout.</summary>
    public Stream? SerialOutput { get; init; }
    /// <summary>Count port accesses per port for <c>--trace-io</c>.</summary>
    public bool TraceIo { get; init; }
}
