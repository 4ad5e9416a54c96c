using VmReplay.Engine.Backend;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.KvmBackend;

namespace VmReplay.Engine.Tests.Cpu;

/// <summary>A recorded CPU model handed back to KVM for a replay: the same entries the recording gave it.</summary>
public sealed class CpuModelReplayTests
{
    private static KvmCpuidEntry2 Host(uint leaf, uint subleaf, uint flags, uint ebx = 0) =>
        new() { Function = leaf, Index = subleaf, Flags = flags, Ebx = ebx };

    private static CpuidEntry Recorded(KvmCpuidEntry2 e) => new(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx);

    [Fact]
    public void ALeafWithOneSubleafKeepsTheSignificantIndexFlagTheHostGivesIt()
    {
        // Leaf 7 listed with subleaf 0 only, as some hosts do, yet indexed.
        KvmCpuidEntry2[] supported = [Host(0, 0, 0), Host(1, 0, 0, ebx: 0x0001_0800), Host(7, 0, KvmCpuidEntry2.SignificantIndex), Host(0x80000001, 0, 0)];
        var built = CpuModel.Build(supported, 0, 1);

        var replayed = CpuModel.ForVcpu(built.Select(Recorded).ToArray(), supported, 0);

        Assert.Equal(built.Select(e => (e.Function, e.Index, e.Flags)), replayed.Select(e => (e.Function, e.Index, e.Flags)));
        Assert.Equal(KvmCpuidEntry2.SignificantIndex, replayed.Single(e => e.Function == 7).Flags);
        Assert.Equal(0u, replayed.Single(e => e.Function == 1).Flags);
    }

    [Fact]
    public void EachVcpuGetsItsOwnApicIdAndLeavesTheHostLacksAreIndexedWhereTheyHaveSubleaves()
    {
        CpuidEntry[] model = [new(1, 0, 0, 0x0001_0800, 0, 0), new(0xB, 0, 1, 0, 0, 0), new(0xB, 1, 2, 0, 0, 0), new(0x80000008, 0, 0x3030, 0, 0, 0)];

        var vcpu2 = CpuModel.ForVcpu(model, [], 2);

        Assert.Equal(0x0201_0800u, vcpu2[0].Ebx);
        Assert.Equal([0u, 1u, 1u, 0u], vcpu2.Select(e => e.Flags));
    }

    [Fact]
    public void OnTheRealKvmARecordedModelComesBackAsTheRecordingBuiltIt()
    {
        KvmHost.Require();
        using var kvm = KvmSystem.Open();
        var supported = kvm.GetSupportedCpuid();
        var built = CpuModel.Build(supported, 0, 1);

        var replayed = CpuModel.ForVcpu(built.Select(Recorded).ToArray(), supported, 0);

        Assert.Equal(built.Select(e => (e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx)),
            replayed.Select(e => (e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx)));
    }
}
