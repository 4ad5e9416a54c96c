using VmReplay.Engine.Cpu;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Vm;

/// <summary>
/// A KVM VM with its RAM mapped, the VMM's MSR interception in place and its vCPUs created
/// with the deterministic CPU model. No in-kernel irqchip or PIT: interrupts come from the VMM.
/// </summary>
public sealed class VirtualMachine : IDisposable
{
    // Just below the BIOS area at 4 GiB, where Firecracker and QEMU put them; never RAM here.
    private const uint TssAddress = 0xFFFB_D000;
    private const ulong IdentityMapAddress = 0xFFFB_C000;

    // KVM_MSR_EXIT_REASON_INVAL | _UNKNOWN | _FILTER: every MSR access KVM would fault or we filtered.
    private const ulong UserSpaceMsrReasons = 0x1 | 0x2 | 0x4;

    private readonly List<Vcpu> _vcpus = new();

    private VirtualMachine(KvmVm kvm, GuestMemory memory, HostCapabilities caps, KvmCpuidEntry2[] supportedCpuid)
    {
        Kvm = kvm;
        Memory = memory;
        Capabilities = caps;
        SupportedCpuid = supportedCpuid;
    }

    public KvmVm Kvm { get; }

    public GuestMemory Memory { get; }

    /// <summary>The dirty-page log, when the VM was created with <see cref="VirtualMachineOptions.DirtyLogging"/>.</summary>
    public DirtyLog? DirtyLog { get; private set; }

    public HostCapabilities Capabilities { get; }

    /// <summary>What the host offers; the guest sees <see cref="CpuModel.Build"/> of it.</summary>
    public KvmCpuidEntry2[] SupportedCpuid { get; }

    public IReadOnlyList<Vcpu> Vcpus => _vcpus;

    /// <summary>Creates the VM on <paramref name="kvm"/>; host faults throw, missing capabilities throw <see cref="KvmUnavailableException"/>.</summary>
    public static VirtualMachine Create(KvmSystem kvm, VirtualMachineOptions options)
    {
        var caps = HostCapabilities.Probe(kvm);
        caps.RequireEssentials(kvm.Path);
        if (options.VcpuCount < 1 || options.VcpuCount > caps.MaxVcpus)
            throw new ArgumentException($"--vcpus must be between 1 and {caps.MaxVcpus} on this host (got {options.VcpuCount})");

        var supported = kvm.GetSupportedCpuid();
        var vmHandle = kvm.CreateVm();
        GuestMemory? memory = null;
        try
        {
            memory = GuestMemory.CreatePcLayout(options.MemorySize);
            var vm = new VirtualMachine(vmHandle, memory, caps, supported);
            vm.Setup(options);
            return vm;
        }
        catch
        {
            memory?.Dispose();
            vmHandle.Dispose();
            throw;
        }
    }

    private void Setup(VirtualMachineOptions options)
    {
        // Intel needs these for real-mode emulation; other backends may refuse them harmlessly.
        TryHostSetup(() => Kvm.SetIdentityMapAddress(IdentityMapAddress));
        TryHostSetup(() => Kvm.SetTssAddress(TssAddress));

        foreach (var region in Memory.Regions)
            Kvm.SetUserMemoryRegion(region.Slot, region.GuestBase, region.Size, region.HostAddress,
                options.DirtyLogging ? KvmUserspaceMemoryRegion.LogDirtyPages : 0);
        if (options.DirtyLogging) DirtyLog = new DirtyLog(Kvm, Memory);

        Kvm.EnableCap(KvmCap.X86UserSpaceMsr, UserSpaceMsrReasons);
        Kvm.SetMsrFilterToUserspace(MsrModel.FilteredToUserspace);

        for (int id = 0; id < options.VcpuCount; id++)
        {
            var kv = Kvm.CreateVcpu(id);
            var vcpu = new Vcpu(kv, Kvm.System);
            kv.SetCpuid(CpuModel.Build(SupportedCpuid, id, options.VcpuCount));
            // Application processors wait for INIT/SIPI, as on a PC. There is no local APIC to
            // send those yet (and KVM refuses other MP states without an in-kernel irqchip), so
            // the run loop simply never enters them.
            _vcpus.Add(vcpu);
        }
    }

    private static void TryHostSetup(Action a)
    {
        try { a(); }
        catch (KvmException) { }
    }

    public void Dispose()
    {
        foreach (var v in _vcpus) v.Dispose();
        Kvm.Dispose();
        Memory.Dispose();
    }
}
