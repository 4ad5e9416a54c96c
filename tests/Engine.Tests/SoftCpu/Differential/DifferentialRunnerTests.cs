using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>The harness itself: the native runner's answers, fault reports, and that a difference is seen.</summary>
public sealed class DifferentialRunnerTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Fact]
    public void BothCpusComputeAnAdditionAndItsFlags()
    {
        var c = DifferentialCase.Of(a => a.add(rax, rbx)).Set(Register.RAX, ulong.MaxValue).Set(Register.RBX, 1);
        var r = _runner.Run([c])[0];
        Assert.Null(r.Difference);
        Assert.Equal(0UL, r.Native.Gpr[0]);
        Assert.Equal(0x55UL, r.Native.Flags & 0xCD5); // CF PF AF ZF
        Assert.Equal(DifferentialLayout.CodeAddress + 3, r.Native.Rip);
    }

    [Fact]
    public void MemoryWritesAndFaultsAreReportedAlike()
    {
        var store = DifferentialCase.Of(a => a.mov(__qword_ptr[rdi + 8], rax)).PointAt(Register.RDI, 0).Set(Register.RAX, 0x1122334455667788);
        // Off the end of the buffer: a #PF at the unmapped page after it, on both.
        var beyond = DifferentialCase.Of(a => a.mov(__qword_ptr[rdi], rax)).PointAt(Register.RDI, DifferentialLayout.DataSize + 8);
        var nonCanonical = DifferentialCase.Of(a => a.mov(rax, __qword_ptr[rdi])).Set(Register.RDI, 0x8000_0000_0000_0000);
        var results = _runner.Run([store, beyond, nonCanonical]);
        Assert.All(results, r => Assert.Null(r.Difference));
        Assert.Equal(0x88, results[0].Native.Data[8]);
        Assert.Equal(14, results[1].Native.Exception);
        Assert.Equal(DifferentialLayout.DataAddress + DifferentialLayout.DataSize + 8, results[1].Native.FaultAddress);
        Assert.Equal(13, results[2].Native.Exception);
        Assert.Equal(DifferentialLayout.CodeAddress, results[2].Native.Rip);
    }

    [Fact]
    public void ADifferenceIsReported()
    {
        // The software CPU does not offer POPCNT (the host does): #UD on one side only.
        var c = DifferentialCase.Of(a => a.popcnt(rax, rbx)).Set(Register.RBX, 7);
        var r = _runner.Run([c])[0];
        Assert.Null(r.Native.Exception);
        Assert.Equal(6, r.Soft.Exception);
        Assert.Contains("exception none vs 6", r.Difference);
    }

    [Fact]
    public void TheFxImageGoesInAndComesOut()
    {
        var c = DifferentialCase.Of(a => a.paddq(xmm1, xmm2)).SetXmm(1, 5, 6).SetXmm(2, 10, 20).Comparing(StateParts.Integer);
        var r = _runner.Run([c])[0];
        Assert.Equal(15UL, BitConverter.ToUInt64(r.Native.Fx!, 160 + 16));
        Assert.Equal(26UL, BitConverter.ToUInt64(r.Native.Fx!, 168 + 16));
    }
}
