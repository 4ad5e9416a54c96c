using VmReplay.Engine.Boot;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// Asks a real guest what CPUID answers on this host. KVM_SET_CPUID2 succeeds everywhere, but
/// some hosts (the nested AMD host this was found on) still hand a guest the host's own
/// leaves 1 and 7, so the features <see cref="CpuModel"/> hides stay visible. The probe runs
/// CPUID at CPL0 in a throwaway 2 MiB VM for every leaf the model changes and compares the
/// answers with the model (<see cref="Compare"/>).
/// </summary>
public static class CpuidProbe
{
    private const ulong CodeAddress = 0x7C00;

    // The KVM paravirtual signature "KVMKVMKVM\0\0\0" in EBX, ECX, EDX of leaf 0x40000000.
    private const uint HypervisorLeaf = 0x40000000;
    private const uint KvmSignatureEbx = 0x4B4D564B, KvmSignatureEcx = 0x564B4D56, KvmSignatureEdx = 0x4D;

    private static readonly Lock Gate = new();
    private static CpuidProbeResult? _cached;

    /// <summary>
    /// What a guest on <paramref name="kvm"/> sees that the model hides. Runs once per process:
    /// the answer depends on the host only, and a VM costs milliseconds every command would pay.
    /// A probe guest that stops other than at its HLT throws <see cref="KvmException"/>.
    /// </summary>
    public static CpuidProbeResult Run(KvmSystem kvm)
    {
        lock (Gate)
        {
            return _cached ??= Probe(kvm);
        }
    }

    /// <summary>The (leaf, subleaf) pairs the probe reads: the leaves that give the range, and every leaf the model changes.</summary>
    public static IReadOnlyList<(uint Leaf, uint Subleaf)> ProbedLeaves { get; } =
        new (uint, uint)[] { (0, 0), (0x80000000, 0), (HypervisorLeaf, 0) }
            .Concat(CpuModel.Removals.Select(r => (r.Leaf, r.Subleaf)))
            .Concat(CpuModel.RemovedLeaves.Select(l => (l.Leaf, 0u)))
            .Distinct()
            .ToArray();

    /// <summary>
    /// Compares what the guest read (<paramref name="observed"/>, one entry per leaf and subleaf
    /// run, <see cref="KvmCpuidEntry2.Index"/> the subleaf) with <paramref name="model"/>. Pure.
    /// A removed bit counts when the guest reads it set and the model has it clear; a leaf the
    /// model removes counts when the guest reads anything but zeros there. Leaves above the
    /// highest leaf the guest reads from leaf 0 (or 0x80000000) are skipped: a CPU answers
    /// those with other data (Intel repeats the highest basic leaf), not with that leaf's features.
    /// </summary>
    public static CpuidProbeResult Compare(ReadOnlySpan<KvmCpuidEntry2> model, ReadOnlySpan<KvmCpuidEntry2> observed)
    {
        var range = LeafRange.Of(observed);
        bool InRange(uint leaf) => range.Contains(leaf);

        var bits = new List<CpuidRemoval>();
        foreach (var r in CpuModel.Removals)
        {
            if (!InRange(r.Leaf) || Find(observed, r.Leaf, r.Subleaf) is not { } seen) continue;
            bool inModel = Find(model, r.Leaf, r.Subleaf) is { } m && IsSet(m, r);
            if (IsSet(seen, r) && !inModel) bits.Add(r);
        }

        var leaves = new List<uint>();
        foreach (var (leaf, _) in CpuModel.RemovedLeaves)
        {
            if (Find(observed, leaf, 0) is not { } seen) continue;
            bool visible = leaf == HypervisorLeaf
                // No entry in the model puts this leaf beyond any range the guest is told of, so
                // what the CPU answers is vendor-defined; KVM's own signature is what matters.
                ? seen.Ebx == KvmSignatureEbx && seen.Ecx == KvmSignatureEcx && seen.Edx == KvmSignatureEdx
                : InRange(leaf) && Find(model, leaf, 0) is null && (seen.Eax | seen.Ebx | seen.Ecx | seen.Edx) != 0;
            if (visible) leaves.Add(leaf);
        }
        return new CpuidProbeResult(bits, leaves);
    }

    private static CpuidProbeResult Probe(KvmSystem kvm)
    {
        using var vm = KvmMachine.Create(kvm, new MachineBackendOptions { MemorySize = 2UL << 20 });
        var model = CpuModel.Build(vm.SupportedCpuid, 0, 1);
        var vcpu = vm.KvmVcpus[0].Kvm;
        SetRealMode(vcpu);
        // Every leaf of the model, and the first subleaves of each leaf that has subleaves: the
        // model lists leaf 7 only with subleaf 0, and Linux reads subleaf 1 too.
        var subleaves = model.Where(e => Array.IndexOf(Cpu.CpuidSubleaves.Leaves, e.Function) >= 0)
            .SelectMany(e => Enumerable.Range(0, (int)Cpu.CpuidSubleaves.Probed).Select(s => (Leaf: e.Function, Subleaf: (uint)s)));
        var observed = ProbedLeaves.Concat(model.Select(e => (Leaf: e.Function, Subleaf: e.Index))).Concat(subleaves).Distinct()
            .Select(p => RunCpuid(vm, vcpu, p.Leaf, p.Subleaf)).ToArray();
        var result = Compare(model, observed);
        return result.ModelApplied ? result : new CpuidProbeResult(result.HiddenBitsSeen, result.RemovedLeavesSeen, Seen(model, observed));
    }

    /// <summary>
    /// The leaves the guest reads otherwise than <paramref name="model"/> says, as it reads them:
    /// what a recording keeps so that a replay on the software CPU answers CPUID as this host did.
    /// Leaves beyond the ranges leaf 0 and 0x80000000 give, and the hypervisor range, are left out.
    /// </summary>
    public static KvmCpuidEntry2[] Seen(ReadOnlySpan<KvmCpuidEntry2> model, ReadOnlySpan<KvmCpuidEntry2> observed)
    {
        var range = LeafRange.Of(observed);
        var seen = new List<KvmCpuidEntry2>();
        foreach (var o in observed)
        {
            bool hypervisor = o.Function >= HypervisorLeaf && o.Function < 0x80000000;
            if (hypervisor || !range.Contains(o.Function)) continue;
            bool same = Find(model, o.Function, o.Index) is { } m
                ? m.Eax == o.Eax && m.Ebx == o.Ebx && m.Ecx == o.Ecx && m.Edx == o.Edx
                : (o.Eax | o.Ebx | o.Ecx | o.Edx) == 0;
            if (!same) seen.Add(o);
        }
        return seen.ToArray();
    }

    // Flat real mode at CPL0: segment bases 0, so the code runs where it is written.
    private static void SetRealMode(KvmVcpu vcpu)
    {
        var s = vcpu.GetSregs();
        s.Cs = BootSegments.RealMode(0, code: true);
        s.Ds = s.Es = s.Ss = BootSegments.RealMode(0, code: false);
        vcpu.SetSregs(s);
    }

    private static KvmCpuidEntry2 RunCpuid(KvmMachine vm, KvmVcpu vcpu, uint leaf, uint subleaf)
    {
        // mov eax,leaf (66 B8 imm32) ; mov ecx,subleaf (66 B9 imm32) ; cpuid (0F A2) ; hlt (F4)
        Span<byte> code = [0x66, 0xB8, 0, 0, 0, 0, 0x66, 0xB9, 0, 0, 0, 0, 0x0F, 0xA2, 0xF4];
        BitConverter.TryWriteBytes(code[2..], leaf);
        BitConverter.TryWriteBytes(code[8..], subleaf);
        vm.Memory.Write(CodeAddress, code);
        vcpu.SetRegs(new GeneralRegisters { Rip = CodeAddress, Rsp = 0x7000, Rflags = 2 });
        // A signal meant for another thread can interrupt KVM_RUN; the guest simply goes on.
        while (vcpu.Run() == KvmVcpu.RunStatus.Interrupted) { }
        var exit = vcpu.RunPage.ExitReason;
        if (exit != KvmExitReason.Hlt)
            throw new KvmException($"CPUID probe: the probe guest stopped with {exit} instead of HLT after CPUID leaf 0x{leaf:X} subleaf {subleaf}");
        var r = vcpu.GetRegs();
        return new KvmCpuidEntry2
        {
            Function = leaf, Index = subleaf, Flags = KvmCpuidEntry2.SignificantIndex,
            Eax = (uint)r.Rax, Ebx = (uint)r.Rbx, Ecx = (uint)r.Rcx, Edx = (uint)r.Rdx,
        };
    }

    // The leaves the guest is told of: up to the highest basic leaf leaf 0 gives, and from
    // 0x80000000 up to the highest extended leaf that one gives.
    private readonly record struct LeafRange(uint MaxBasic, uint MaxExtended)
    {
        public static LeafRange Of(ReadOnlySpan<KvmCpuidEntry2> observed) =>
            new(Find(observed, 0, 0)?.Eax ?? 0, Find(observed, 0x80000000, 0)?.Eax ?? 0);

        public bool Contains(uint leaf) => leaf < 0x80000000 ? leaf <= MaxBasic : leaf <= MaxExtended;
    }

    // KVM's lookup: an entry without KVM_CPUID_FLAG_SIGNIFCANT_INDEX answers every subleaf.
    private static KvmCpuidEntry2? Find(ReadOnlySpan<KvmCpuidEntry2> entries, uint leaf, uint subleaf)
    {
        foreach (var e in entries)
            if (e.Function == leaf && ((e.Flags & KvmCpuidEntry2.SignificantIndex) == 0 || e.Index == subleaf))
                return e;
        return null;
    }

    private static bool IsSet(in KvmCpuidEntry2 e, CpuidRemoval r)
    {
        uint value = r.Register switch
        {
            CpuidRegister.Eax => e.Eax,
            CpuidRegister.Ebx => e.Ebx,
            CpuidRegister.Ecx => e.Ecx,
            _ => e.Edx,
        };
        return (value & (1u << r.Bit)) != 0;
    }
}
