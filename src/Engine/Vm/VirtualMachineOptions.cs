namespace VmReplay.Engine.Vm;

/// <summary>Settings of a virtual machine.</summary>
public sealed record VirtualMachineOptions
{
    /// <summary>Guest RAM in bytes.</summary>
    public ulong MemorySize { get; init; } = 64UL * 1024 * 1024;

    /// <summary>Number of vCPUs. vCPU 0 boots; the others wait for INIT/SIPI.</summary>
    public int VcpuCount { get; init; } = 1;

    /// <summary>Log the pages the guest dirties (KVM_MEM_LOG_DIRTY_PAGES), for recording and replay.</summary>
    public bool DirtyLogging { get; init; }
}
