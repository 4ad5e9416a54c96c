using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// A replay on the software CPU answers CPUID with the recorded model, and where the recorded
/// guest read some leaves otherwise (a KVM host that did not apply the model to them), with what
/// it read.
/// </summary>
public sealed class RecordedCpuModelTests
{
    private static readonly CpuidEntry[] Model =
    [
        new(0, 0, 0xD, 0x68747541, 0x444D4163, 0x69746E65), // "AuthenticAMD", basic leaves to 0xD
        new(1, 0, 0x830F10, 0x800, 0x80000000, 0x078BFBFF),
        new(7, 0, 0, 0x209C01A9, 0, 0),
        new(0xD, 0, 7, 0x340, 0x340, 0),
        new(0xD, 1, 1, 0, 0, 0),
    ];

    private static SoftMachine Machine(IReadOnlyList<CpuidEntry>? seen) =>
        SoftMachine.Create(new MachineBackendOptions { MemorySize = 2UL << 20, CpuModel = Model, CpuidSeen = seen });

    [Fact]
    public void TheModelAnswersWhereNothingElseWasSeen()
    {
        using var m = Machine(null);
        var cpu = m.SoftVcpus[0].Cpu;
        Assert.Equal((0x830F10u, 0x800u, 0x80000000u, 0x078BFBFFu), cpu.Cpuid.Lookup(1, 0));
        Assert.Equal((1u, 0u, 0u, 0u), cpu.Cpuid.Lookup(0xD, 1));
    }

    [Fact]
    public void ASeenLeafReplacesTheModelsAndKeepsHowItsSubleavesAreSelected()
    {
        using var m = Machine([new CpuidEntry(1, 0, 0x830F10, 0x2000800, 0xFED83203, 0x178BFBFF), new CpuidEntry(0xD, 1, 0xF, 0, 0, 0)]);
        var cpu = m.SoftVcpus[0].Cpu;
        Assert.Equal((0x830F10u, 0x2000800u, 0xFED83203u, 0x178BFBFFu), cpu.Cpuid.Lookup(1, 0));
        // Leaf 1 ignores ECX, as in the model: a seen leaf 1 does not make it an indexed leaf.
        Assert.Equal((0x830F10u, 0x2000800u, 0xFED83203u, 0x178BFBFFu), cpu.Cpuid.Lookup(1, 3));
        Assert.Equal((0xFu, 0u, 0u, 0u), cpu.Cpuid.Lookup(0xD, 1));
        Assert.Equal((7u, 0x340u, 0x340u, 0u), cpu.Cpuid.Lookup(0xD, 0));
        Assert.Equal((0u, 0x209C01A9u, 0u, 0u), cpu.Cpuid.Lookup(7, 0));
    }

    /// <summary>
    /// A model lists leaf 7 only with subleaf 0 when that is its last (EAX 0); subleaf 1 then
    /// answers zeros, as KVM answers it, not subleaf 0's bits (whose bit 0, FSGSBASE, is Intel's
    /// PPIN in subleaf 1: a replayed Linux read MSR 0x4E because of it).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASubleafPastALeafsLastAnswersZeros(bool seenOtherwise)
    {
        using var m = Machine(seenOtherwise ? [new CpuidEntry(7, 0, 0, 0x209C01AB, 0, 0)] : null);
        var cpu = m.SoftVcpus[0].Cpu;
        Assert.NotEqual(0u, cpu.Cpuid.Lookup(7, 0).Ebx & 1);
        Assert.Equal((0u, 0u, 0u, 0u), cpu.Cpuid.Lookup(7, 1));
        Assert.Equal((0u, 0u, 0u, 0u), cpu.Cpuid.Lookup(0xD, 2));
        // A leaf without subleaves still ignores ECX.
        Assert.Equal(cpu.Cpuid.Lookup(1, 0), cpu.Cpuid.Lookup(1, 1));
    }

    /// <summary>A subleaf the probe saw the KVM host answer otherwise than the model's zeros answers as it was read.</summary>
    [Fact]
    public void ASeenSubleafTheModelLeavesOutAnswersAsRead()
    {
        using var m = Machine([new CpuidEntry(7, 1, 0x10, 0, 0, 0)]);
        var cpu = m.SoftVcpus[0].Cpu;
        Assert.Equal((0x10u, 0u, 0u, 0u), cpu.Cpuid.Lookup(7, 1));
        Assert.Equal((0u, 0x209C01A9u, 0u, 0u), cpu.Cpuid.Lookup(7, 0));
        Assert.Equal((0u, 0u, 0u, 0u), cpu.Cpuid.Lookup(7, 2));
    }
}
