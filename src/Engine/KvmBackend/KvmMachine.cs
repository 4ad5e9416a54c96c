using VmReplay.Engine.Backend;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// A KVM VM with its RAM mapped, the VMM's MSR interception in place and its vCPUs created
/// with the deterministic CPU model (<see cref="KvmBackend.CpuModel"/>). No in-kernel irqchip or
/// PIT: interrupts come from the VMM.
/// </summary>
public sealed class KvmMachine : IMachineBackend
{
    // Just below the BIOS area at 4 GiB, where Firecracker and QEMU put them; never RAM here.
    private const uint TssAddress = 0xFFFB_D000;
    private const ulong IdentityMapAddress = 0xFFFB_C000;

    // KVM_MSR_EXIT_REASON_INVAL | _UNKNOWN | _FILTER: every MSR access KVM would fault or we filtered.
    private const ulong UserSpaceMsrReasons = 0x1 | 0x2 | 0x4;

    private readonly List<KvmMachineVcpu> _vcpus = new();
    private readonly KvmSystem? _ownedSystem;

    private KvmMachine(KvmVm kvm, GuestMemory memory, HostCapabilities caps, KvmCpuidEntry2[] supportedCpuid, KvmSystem? ownedSystem)
    {
        Kvm = kvm;
        Memory = memory;
        Capabilities = caps;
        SupportedCpuid = supportedCpuid;
        _ownedSystem = ownedSystem;
    }

    public CpuBackendKind Kind => CpuBackendKind.Kvm;

    public KvmVm Kvm { get; }

    public GuestMemory Memory { get; }

    public DirtyLog? DirtyLog { get; private set; }

    public HostCapabilities Capabilities { get; }

    public object? HostFacts => Capabilities;

    /// <summary>What the host offers; the guest sees <see cref="KvmBackend.CpuModel.Build"/> of it.</summary>
    public KvmCpuidEntry2[] SupportedCpuid { get; }

    public IReadOnlyList<KvmMachineVcpu> KvmVcpus => _vcpus;

    public IReadOnlyList<IVcpuBackend> Vcpus => _vcpus;

    public IReadOnlyList<CpuidEntry> CpuModel =>
        KvmBackend.CpuModel.Build(SupportedCpuid, 0, Math.Max(1, _vcpus.Count))
            .Select(e => new CpuidEntry(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)).ToArray();

    /// <summary>Opens <paramref name="kvmPath"/> and creates the VM; the machine owns the handle.</summary>
    public static KvmMachine Open(string kvmPath, MachineBackendOptions options)
    {
        var kvm = KvmSystem.Open(kvmPath);
        try { return Create(kvm, options, owned: true); }
        catch
        {
            kvm.Dispose();
            throw;
        }
    }

    /// <summary>Creates the VM on <paramref name="kvm"/>; host faults throw, missing capabilities throw <see cref="KvmUnavailableException"/>.</summary>
    public static KvmMachine Create(KvmSystem kvm, MachineBackendOptions options) => Create(kvm, options, owned: false);

    private static KvmMachine Create(KvmSystem kvm, MachineBackendOptions options, bool owned)
    {
        var caps = KvmCapabilities.Probe(kvm);
        caps.RequireEssentials(kvm.Path);
        if (options.VcpuCount < 1 || options.VcpuCount > caps.MaxVcpus)
            throw new ArgumentException($"--vcpus must be between 1 and {caps.MaxVcpus} on this host (got {options.VcpuCount})");

        var supported = kvm.GetSupportedCpuid();
        var vmHandle = kvm.CreateVm();
        GuestMemory? memory = null;
        try
        {
            memory = GuestMemory.CreatePcLayout(options.MemorySize);
            var vm = new KvmMachine(vmHandle, memory, caps, supported, owned ? kvm : null);
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

    private void Setup(MachineBackendOptions options)
    {
        // Intel needs these for real-mode emulation; other backends may refuse them harmlessly.
        TryHostSetup(() => Kvm.SetIdentityMapAddress(IdentityMapAddress));
        TryHostSetup(() => Kvm.SetTssAddress(TssAddress));

        foreach (var region in Memory.Regions)
            Kvm.SetUserMemoryRegion(region.Slot, region.GuestBase, region.Size, region.HostAddress,
                options.DirtyLogging ? KvmUserspaceMemoryRegion.LogDirtyPages : 0);
        if (options.DirtyLogging) DirtyLog = new DirtyLog((i, bits) => Kvm.GetDirtyLog(Memory.Regions[i].Slot, bits), Memory);

        Kvm.EnableCap(KvmCap.X86UserSpaceMsr, UserSpaceMsrReasons);
        if (options.KvmAnswersMostMsrs) Kvm.SetMsrFilter(defaultAllow: true, Cpu.MsrModel.ClockDerived.Select(m => (m, 1u)).ToArray());
        else Kvm.SetMsrFilter(defaultAllow: false, Cpu.ProcessorMsrs.Ranges);

        if (options.CpuModel is { } recorded) RequireHostHas(recorded);
        for (int id = 0; id < options.VcpuCount; id++)
        {
            var kv = Kvm.CreateVcpu(id);
            // The software CPU's reset values where KVM would answer with its own (the vCPU
            // answers these MSRs itself on both backends: ProcessorMsrs).
            var reset = options.KvmAnswersMostMsrs ? [] : Cpu.ProcessorMsrs.ResetValues.Select(m => new KvmMsrEntry { Index = m.Index, Data = m.Value }).ToArray();
            if (reset.Length > 0 && kv.SetMsrs(reset) != reset.Length) throw new KvmException($"KVM_SET_MSRS on vCPU {id} refused a reset value");
            var vcpu = new KvmMachineVcpu(kv, Kvm.System, Memory);
            kv.SetCpuid(options.CpuModel is { } model ? KvmBackend.CpuModel.ForVcpu(model, SupportedCpuid, id) : KvmBackend.CpuModel.Build(SupportedCpuid, id, options.VcpuCount));
            // Application processors wait for INIT/SIPI, as on a PC. There is no local APIC to
            // send those yet (and KVM refuses other MP states without an in-kernel irqchip), so
            // the run loop simply never enters them.
            _vcpus.Add(vcpu);
        }
    }

    // The feature leaves a replay checks: a recorded model may only ask for what this host's KVM offers.
    private static readonly (uint Leaf, uint Subleaf)[] FeatureLeaves = [(1, 0), (7, 0), (0x8000_0001, 0)];

    private void RequireHostHas(IReadOnlyList<CpuidEntry> recorded)
    {
        var host = KvmBackend.CpuModel.Build(SupportedCpuid, 0, 1);
        foreach (var (leaf, sub) in FeatureLeaves)
        {
            var want = recorded.FirstOrDefault(e => e.Function == leaf && e.Index == sub);
            var have = host.FirstOrDefault(e => e.Function == leaf && e.Index == sub);
            uint[] w = [want.Ecx, want.Edx, want.Ebx], h = [have.Ecx, have.Edx, have.Ebx];
            string[] names = ["ECX", "EDX", "EBX"];
            for (int r = 0; r < 3; r++)
            {
                if (leaf == 1 && r == 2) continue; // leaf 1 EBX is APIC id and counts, not features
                uint missing = w[r] & ~h[r];
                if (missing != 0)
                    throw new BackendUnavailableException($"the trace's CPU model asks for CPUID leaf {leaf:x} {names[r]} bits {missing:x8}, which this host's KVM does not offer: replay it with --cpu soft or on a host like the recording one");
            }
        }
    }

    /// <summary>
    /// Warns when this host's KVM lets the guest see CPUID features the model hides (some hosts
    /// accept KVM_SET_CPUID2 but do not apply it to leaves 1 and 7). The probe only advises.
    /// </summary>
    public string? CheckCpuModel()
    {
        CpuidProbeResult probe;
        try { probe = CpuidProbe.Run(Kvm.System); }
        catch (KvmException e) { return $"could not check the CPUID the guest sees: {e.Message}"; }
        return probe.ModelApplied ? null : probe.Describe();
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
        _ownedSystem?.Dispose();
    }
}
