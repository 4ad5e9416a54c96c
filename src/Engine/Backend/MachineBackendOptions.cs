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
}
