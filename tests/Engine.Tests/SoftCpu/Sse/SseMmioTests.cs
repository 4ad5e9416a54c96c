using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// 16-byte SSE reads of MMIO (32-bit mode without paging: 2 MiB of RAM, MMIO above). An exit
/// carries one MMIO answer, so a read with one MMIO half completes through it; one with two
/// stops the run as unsupported instead of exiting for its halves in turn forever.
/// </summary>
public sealed class SseMmioTests
{
    private static SoftCpuMachine Machine(uint address)
    {
        var m = new SoftCpuMachine(32, a =>
        {
            a.movups(xmm0, __xmmword_ptr[address]);
            a.movd(ebx, xmm0);
            a.hlt();
        });
        var s = m.State();
        s.Sregs.Cr4 |= 0x600;
        m.Cpu.LoadState(s);
        return m;
    }

    [Fact]
    public void AReadWithOneMmioHalfCompletesWithTheVmmsAnswer()
    {
        using var m = Machine(0x1F_FFF8);
        m.Memory.WriteUInt64(0x1F_FFF8, 0x1122_3344_5566_7788);
        Assert.Equal(ProcessorExitKind.MmioRead, m.Run());
        Assert.Equal(0x20_0000UL, m.Cpu.Exit.Address);
        m.Cpu.AnswerMmioRead(0xAABB_CCDD_EEFF_0011);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x5566_7788UL, m.State().Regs.Rbx);
    }

    [Fact]
    public void AReadWithTwoMmioHalvesStopsAsUnsupported()
    {
        using var m = Machine(0xFEC0_0000);
        Assert.Equal(ProcessorExitKind.MmioRead, m.Run());
        m.Cpu.AnswerMmioRead(1);
        Assert.Equal(ProcessorExitKind.Unsupported, m.Run());
        Assert.Contains("16-byte SSE read of MMIO", m.Cpu.Exit.Message);
    }
}
