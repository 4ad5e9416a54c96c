using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Cpu;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Cpu;

/// <summary>The comparison of model and guest view on made-up leaves, and the probe on the real /dev/kvm.</summary>
public sealed class CpuidProbeTests
{
    private const int Rdrand = 30, Apic = 9, Sse2 = 26, Rdseed = 18;

    private static KvmCpuidEntry2 Leaf(uint leaf, uint eax = 0, uint ebx = 0, uint ecx = 0, uint edx = 0, uint subleaf = 0) =>
        new() { Function = leaf, Index = subleaf, Flags = KvmCpuidEntry2.SignificantIndex, Eax = eax, Ebx = ebx, Ecx = ecx, Edx = edx };

    // A guest told of basic leaves up to 0x16 and extended leaves up to 0x80000008.
    private static readonly KvmCpuidEntry2 Max = Leaf(0, eax: 0x16);
    private static readonly KvmCpuidEntry2 MaxExtended = Leaf(0x80000000, eax: 0x80000008);

    [Fact]
    public void AHiddenBitTheGuestSeesIsReportedWithItsName()
    {
        KvmCpuidEntry2[] model = [Max, MaxExtended, Leaf(1, edx: 1u << Sse2), Leaf(7)];
        KvmCpuidEntry2[] seen = [Max, MaxExtended, Leaf(1, ecx: 1u << Rdrand, edx: 1u << Sse2 | 1u << Apic), Leaf(7, ebx: 1u << Rdseed)];

        var result = CpuidProbe.Compare(model, seen);

        Assert.False(result.ModelApplied);
        Assert.Equal(["APIC", "RDRAND", "RDSEED"], result.HiddenBitsSeen.Select(r => r.Feature).Order());
        var rdrand = result.HiddenBitsSeen.Single(r => r.Feature == "RDRAND");
        Assert.Equal((1u, CpuidRegister.Ecx, 30), (rdrand.Leaf, rdrand.Register, rdrand.Bit));
        Assert.Empty(result.RemovedLeavesSeen);
        Assert.StartsWith("this host's KVM does not apply the CPU model to CPUID leaves 1, 7: the guest still sees RDRAND, RDSEED, APIC (", result.Describe());
    }

    [Fact]
    public void NothingIsReportedWhenEveryHiddenBitIsClear()
    {
        // Bits the model keeps (SSE2) are the guest's to see.
        KvmCpuidEntry2[] model = [Max, MaxExtended, Leaf(1, edx: 1u << Sse2), Leaf(7), Leaf(0x80000001, edx: 1u << 11)];
        KvmCpuidEntry2[] seen = [Max, MaxExtended, Leaf(1, edx: 1u << Sse2), Leaf(7), Leaf(0x80000001, edx: 1u << 11), Leaf(0xD), Leaf(0x40000000)];

        var result = CpuidProbe.Compare(model, seen);

        Assert.True(result.ModelApplied);
        Assert.Empty(result.HiddenBitsSeen);
        Assert.Empty(result.RemovedLeavesSeen);
    }

    [Fact]
    public void ALeafTheModelRemovesAsAWholeIsReportedWhenTheGuestStillReadsIt()
    {
        KvmCpuidEntry2[] model = [Max, MaxExtended, Leaf(1), Leaf(7)];
        KvmCpuidEntry2[] seen = [Max, MaxExtended, Leaf(1), Leaf(7), Leaf(0xD, eax: 0xE7, ebx: 0x240, ecx: 0x980)];

        var result = CpuidProbe.Compare(model, seen);

        Assert.Equal([0xDu], result.RemovedLeavesSeen);
        Assert.Empty(result.HiddenBitsSeen);
        Assert.Contains("leaves 0xD: the guest still sees leaf 0xD", result.Describe());
    }

    [Fact]
    public void LeavesAboveTheRangeTheGuestIsToldOfAreNotReported()
    {
        // Intel answers a leaf above the highest basic leaf with that highest leaf's data, and
        // leaf 0x40000000 with it too when there are no hypervisor leaves: not the leaf's features.
        var max = Leaf(0, eax: 0x14);
        KvmCpuidEntry2[] model = [max, MaxExtended, Leaf(1), Leaf(7)];
        var highest = Leaf(0x16, eax: 0xBB8, ebx: 0xFA0, ecx: 0x64);
        KvmCpuidEntry2[] seen = [max, MaxExtended, Leaf(1), Leaf(7), highest, Leaf(0x40000000, eax: 0xBB8, ebx: 0xFA0, ecx: 0x64)];

        Assert.True(CpuidProbe.Compare(model, seen).ModelApplied);
    }

    [Fact]
    public void KvmsParavirtualSignatureIsReported()
    {
        KvmCpuidEntry2[] model = [Max, MaxExtended, Leaf(1), Leaf(7)];
        KvmCpuidEntry2[] seen = [Max, MaxExtended, Leaf(1), Leaf(7), Leaf(0x40000000, eax: 0x40000001, ebx: 0x4B4D564B, ecx: 0x564B4D56, edx: 0x4D)];

        Assert.Equal([0x40000000u], CpuidProbe.Compare(model, seen).RemovedLeavesSeen);
    }

    [Fact]
    public void SeenKeepsEveryLeafTheGuestReadsOtherwiseThanTheModelAsItReadsIt()
    {
        KvmCpuidEntry2[] model = [Max, MaxExtended, Leaf(1, edx: 1u << Sse2), Leaf(7), Leaf(0xD, subleaf: 1), Leaf(0x80000001, edx: 1)];
        KvmCpuidEntry2[] seen =
        [
            Max, MaxExtended, Leaf(1, ecx: 1u << Rdrand, edx: 1u << Sse2), Leaf(7),
            Leaf(0xD, eax: 7, subleaf: 0),       // a removed leaf the guest still reads
            Leaf(0xD, subleaf: 1),               // as the model says
            Leaf(0x80000001, edx: 1),
            Leaf(7, ebx: 1, subleaf: 1),         // a subleaf the model leaves out (zeros), read otherwise
            Leaf(7, subleaf: 2),                 // one read as zeros
            Leaf(0x17, eax: 5),                  // above the basic range: another leaf's data
            Leaf(0x40000000, eax: 0x40000001),   // the hypervisor range: never kept
        ];

        var kept = CpuidProbe.Seen(model, seen);

        Assert.Equal([(1u, 0u, 1u << Rdrand), (0xDu, 0u, 0u), (7u, 1u, 0u)], kept.Select(e => (e.Function, e.Index, e.Ecx)));
        Assert.Equal(7u, kept[1].Eax);
        Assert.Empty(CpuidProbe.Seen(model, model));
    }

    [Fact]
    public void ProbeOnTheRealKvmAgreesWithCpuidRunDirectly()
    {
        KvmHost.Require();
        using var kvm = KvmSystem.Open();
        var result = CpuidProbe.Run(kvm);

        using var vm = KvmMachine.Create(kvm, new MachineBackendOptions { MemorySize = 2UL << 20 });
        var model = CpuModel.Build(vm.SupportedCpuid, 0, 1);
        var vcpu = vm.KvmVcpus[0];
        uint maxBasic = Cpuid(vm, vcpu, 0, 0).Eax;
        uint maxExtended = Cpuid(vm, vcpu, 0x80000000, 0).Eax;

        var expected = new List<string>();
        foreach (var r in CpuModel.Removals)
        {
            if (r.Leaf > (r.Leaf < 0x80000000 ? maxBasic : maxExtended)) continue;
            var (eax, ebx, ecx, edx) = Cpuid(vm, vcpu, r.Leaf, r.Subleaf);
            uint value = r.Register switch { CpuidRegister.Eax => eax, CpuidRegister.Ebx => ebx, CpuidRegister.Ecx => ecx, _ => edx };
            bool inModel = model.Any(e => e.Function == r.Leaf && e.Index == r.Subleaf && (Register(e, r.Register) & (1u << r.Bit)) != 0);
            if ((value & (1u << r.Bit)) != 0 && !inModel) expected.Add(r.Feature);
        }
        Assert.Equal(expected, result.HiddenBitsSeen.Select(r => r.Feature));

        foreach (var leaf in result.RemovedLeavesSeen)
        {
            var (eax, ebx, ecx, edx) = Cpuid(vm, vcpu, leaf, 0);
            Assert.NotEqual(0u, eax | ebx | ecx | edx);
        }
        Assert.Equal(result.ModelApplied, result.LeavesSeen.Count == 0);
        foreach (var e in result.LeavesSeen)
            Assert.Equal((e.Eax, e.Ebx, e.Ecx, e.Edx), Cpuid(vm, vcpu, e.Function, e.Index));
    }

    private static uint Register(in KvmCpuidEntry2 e, CpuidRegister r) =>
        r switch { CpuidRegister.Eax => e.Eax, CpuidRegister.Ebx => e.Ebx, CpuidRegister.Ecx => e.Ecx, _ => e.Edx };

    // The scratch program that found the problem: real mode, CPUID, HLT, read the registers.
    private static (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(KvmMachine vm, KvmMachineVcpu vcpu, uint leaf, uint subleaf)
    {
        byte[] code = [0x66, 0xB8, 0, 0, 0, 0, 0x66, 0xB9, 0, 0, 0, 0, 0x0F, 0xA2, 0xF4];
        BitConverter.TryWriteBytes(code.AsSpan(2), leaf);
        BitConverter.TryWriteBytes(code.AsSpan(8), subleaf);
        vm.Memory.Write(0x7C00, code);
        vcpu.WithState(s =>
        {
            s.Sregs.Cs = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
            s.Sregs.Ds = s.Sregs.Es = s.Sregs.Ss = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, Present = 1, S = 1 };
            s.Regs = new GeneralRegisters { Rip = 0x7C00, Rsp = 0x7000, Rflags = 2 };
        });
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        Assert.Equal(KvmExitReason.Hlt, vcpu.Kvm.RunPage.ExitReason);
        var r = vcpu.WithState(s => s.Regs);
        return ((uint)r.Rax, (uint)r.Rbx, (uint)r.Rcx, (uint)r.Rdx);
    }
}
