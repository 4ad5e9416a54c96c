using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Backend;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// The CPU the guest sees: KVM_GET_SUPPORTED_CPUID with every feature removed that would make a
/// run unrepeatable or that this VMM does not emulate. The same host gives the same model, and a
/// recording stores the model it ran with. README.md lists the removals and their reasons; they
/// come from <see cref="Removals"/>.
/// </summary>
public static class CpuModel
{
    private const string NotReplayable = "its results cannot be recorded (KVM cannot intercept the instruction)";
    private const string NoApic = "there is no local APIC: interrupts come from the VMM's 8259A pair";

    /// <summary>Feature bits cleared, with the reason for each.</summary>
    public static readonly IReadOnlyList<CpuidRemoval> Removals =
    [
        new(1, 0, CpuidRegister.Ecx, 30, "RDRAND", "hardware randomness: " + NotReplayable),
        new(7, 0, CpuidRegister.Ebx, 18, "RDSEED", "hardware randomness: " + NotReplayable),
        new(1, 0, CpuidRegister.Ecx, 24, "TSC-deadline", "a timer driven by the TSC, which KVM cannot intercept; no local APIC to host it"),
        new(1, 0, CpuidRegister.Ecx, 21, "x2APIC", NoApic),
        new(1, 0, CpuidRegister.Edx, 9, "APIC", NoApic),
        new(1, 0, CpuidRegister.Ecx, 31, "hypervisor", "announces the KVM paravirtual interface (kvmclock reads host time directly); its leaves are removed too"),
        new(1, 0, CpuidRegister.Ecx, 3, "MONITOR/MWAIT", "waits on host timing; a guest must use HLT, which the VMM sees"),
        new(1, 0, CpuidRegister.Ecx, 26, "XSAVE", "this host's CPL0 instruction emulator cannot execute XSAVE/XRSTOR"),
        new(1, 0, CpuidRegister.Ecx, 27, "OSXSAVE", "follows XSAVE"),
        new(1, 0, CpuidRegister.Ecx, 28, "AVX", "needs XSAVE"),
        new(1, 0, CpuidRegister.Ecx, 12, "FMA", "needs AVX"),
        new(1, 0, CpuidRegister.Ecx, 29, "F16C", "needs AVX"),
        new(1, 0, CpuidRegister.Ecx, 23, "POPCNT", "this host's CPL0 instruction emulator cannot execute POPCNT"),
        new(1, 0, CpuidRegister.Ecx, 17, "PCID", "INVPCID/PCID paths are not emulated on this host"),
        new(1, 0, CpuidRegister.Ecx, 15, "PDCM", "performance capabilities MSR: there is no PMU"),
        new(7, 0, CpuidRegister.Ebx, 0, "FSGSBASE", "this host's CPL0 instruction emulator cannot execute RDGSBASE/WRGSBASE"),
        new(7, 0, CpuidRegister.Ebx, 1, "TSC_ADJUST", "TSC state: " + NotReplayable),
        new(7, 0, CpuidRegister.Ebx, 5, "AVX2", "needs AVX"),
        new(7, 0, CpuidRegister.Ebx, 10, "INVPCID", "this host's CPL0 instruction emulator cannot execute INVPCID"),
        new(7, 0, CpuidRegister.Ebx, 16, "AVX512F", "needs XSAVE"),
        new(7, 0, CpuidRegister.Ebx, 20, "SMAP", "this host's CPL0 instruction emulator cannot execute CLAC/STAC"),
        new(7, 0, CpuidRegister.Ecx, 3, "PKU", "protection keys need XSAVE state"),
        new(7, 0, CpuidRegister.Ecx, 5, "WAITPKG", "UMWAIT/TPAUSE wait on the TSC: " + NotReplayable),
        new(7, 0, CpuidRegister.Ecx, 16, "LA57", "5-level paging: the debugger's page walker stops at 4 levels"),
        new(7, 0, CpuidRegister.Ecx, 22, "RDPID", "reads TSC_AUX without an exit: " + NotReplayable),
        new(1, 0, CpuidRegister.Edx, 4, "TSC", "RDTSC cannot be intercepted through KVM, so its values cannot be recorded: hidden so that a guest that checks (Linux) keeps its clocks and delays off the TSC; RDTSC still executes, unrecorded"),
        new(0x80000001, 0, CpuidRegister.Edx, 4, "TSC (AMD mirror)", "follows TSC"),
        new(0x80000001, 0, CpuidRegister.Edx, 27, "RDTSCP", "reads the TSC: " + NotReplayable),
        new(0x80000007, 0, CpuidRegister.Edx, 8, "invariant TSC", "invites the guest to calibrate against the TSC: " + NotReplayable),
    ];

    /// <summary>Leaves removed as a whole.</summary>
    public static readonly IReadOnlyList<(uint Leaf, string Reason)> RemovedLeaves =
    [
        (0x40000000, "KVM paravirtual leaves (kvmclock, steal time, PV EOI): they read host state behind the VMM's back"),
        (0x0A, "architectural performance monitoring: there is no PMU to record"),
        (0x0B, "x2APIC topology: " + NoApic),
        (0x1F, "x2APIC topology v2: " + NoApic),
        (0x0D, "XSAVE state components: XSAVE is hidden"),
        (0x14, "processor trace"),
        (0x15, "TSC/crystal frequency: invites TSC calibration"),
        (0x16, "processor frequency: host-specific"),
    ];

    /// <summary>Builds the model for vCPU <paramref name="vcpuId"/> of <paramref name="vcpuCount"/> from the host's supported leaves.</summary>
    public static KvmCpuidEntry2[] Build(ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuId, int vcpuCount)
    {
        var result = new List<KvmCpuidEntry2>(supported.Length);
        foreach (var original in supported)
        {
            var e = original;
            if (IsRemovedLeaf(e.Function)) continue;
            foreach (var r in Removals)
            {
                if (r.Leaf != e.Function || r.Subleaf != e.Index) continue;
                uint mask = ~(1u << r.Bit);
                switch (r.Register)
                {
                    case CpuidRegister.Eax: e.Eax &= mask; break;
                    case CpuidRegister.Ebx: e.Ebx &= mask; break;
                    case CpuidRegister.Ecx: e.Ecx &= mask; break;
                    case CpuidRegister.Edx: e.Edx &= mask; break;
                }
            }
            if (e.Function == 1)
            {
                // EBX: initial APIC id in 31:24, logical processor count in 23:16, CLFLUSH size in 15:8.
                e.Ebx = (e.Ebx & 0x0000_FFFF) | ((uint)vcpuId << 24) | ((uint)Math.Max(1, vcpuCount) << 16);
                if (vcpuCount > 1) e.Edx |= 1u << 28; // HTT: more than one logical processor
            }
            if (e.Function == 0 && e.Eax > 0x1F) e.Eax = 0x1F; // highest basic leaf we describe
            result.Add(e);
        }
        return result.ToArray();
    }

    /// <summary>
    /// A recorded model (vCPU 0's) as KVM entries for vCPU <paramref name="vcpuId"/> on this host:
    /// its own initial APIC id in leaf 1 EBX[31:24], and for each leaf the flags this host's KVM
    /// gives it in <paramref name="supported"/>, as <see cref="Build"/> keeps them on the recording
    /// host. (Guessing KVM_CPUID_FLAG_SIGNIFCANT_INDEX from the recorded subleaves left it off
    /// leaf 7, which has one; KVM then answered that leaf differently from the recording, and a
    /// Linux replay took another path at its first feature check.) Leaves this host does not
    /// list get the flag where the model has subleaves.
    /// </summary>
    public static KvmCpuidEntry2[] ForVcpu(IReadOnlyList<CpuidEntry> model, ReadOnlySpan<KvmCpuidEntry2> supported, int vcpuId)
    {
        var result = new KvmCpuidEntry2[model.Count];
        for (int i = 0; i < model.Count; i++)
        {
            var e = model[i];
            result[i] = new KvmCpuidEntry2
            {
                Function = e.Function, Index = e.Index, Eax = e.Eax, Ecx = e.Ecx, Edx = e.Edx,
                Ebx = e.Function == 1 ? (e.Ebx & 0x00FF_FFFF) | ((uint)vcpuId << 24) : e.Ebx,
                Flags = FlagsOf(e.Function, supported) ?? (model.Count(x => x.Function == e.Function) > 1 || e.Index != 0 ? KvmCpuidEntry2.SignificantIndex : 0),
            };
        }
        return result;
    }

    private static uint? FlagsOf(uint leaf, ReadOnlySpan<KvmCpuidEntry2> supported)
    {
        foreach (var s in supported)
            if (s.Function == leaf) return s.Flags;
        return null;
    }

    private static bool IsRemovedLeaf(uint leaf)
    {
        if (leaf >= 0x40000000 && leaf < 0x50000000) return true;
        foreach (var (l, _) in RemovedLeaves)
            if (l == leaf) return true;
        return false;
    }
}
