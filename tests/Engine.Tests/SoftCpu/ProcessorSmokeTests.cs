using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

public class ProcessorSmokeTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void CountingLoopHaltsWithTheSumAndAnExactInstructionCount(int bitness)
    {
        using var m = new SoftCpuMachine(bitness, a =>
        {
            var loop = a.CreateLabel();
            a.mov(eax, 0);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(5050UL, m.State().Regs.Rax);
        // 2 movs, 100 x (add, dec, jnz), hlt.
        Assert.Equal(2 + 300 + 1, m.Cpu.InstructionCount);
    }

    [Fact]
    public void PortOutputAndInputReachTheVmm()
    {
        var outs = new List<(ulong, ulong)>();
        using var m = new SoftCpuMachine(32, a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, (byte)'A');
            a.@out(dx, al);
            a.@in(al, 0x60);
            a.mov(ebx, eax);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run(portIn: port => port == 0x60 ? 0x5AUL : 0UL));
        Assert.Equal(0x5AUL, m.State().Regs.Rbx & 0xFF);
        Assert.Equal(6, m.Cpu.InstructionCount);
    }

    [Fact]
    public void CallAndReturnThroughTheStack()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            var f = a.CreateLabel();
            a.mov(rdi, 7);
            a.call(f);
            a.hlt();
            a.Label(ref f);
            a.lea(rax, __[rdi + rdi * 2]);
            a.ret();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(21UL, m.State().Regs.Rax);
        Assert.Equal(SoftCpuMachine.StackTop, m.State().Regs.Rsp);
    }

    [Fact]
    public void RealModeAddressesThroughSegments()
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            a.mov(ax, 0x2000);
            a.mov(ds, ax);
            a.mov(__word_ptr[0x10], 0x1234);
            a.mov(bx, __word_ptr[0x10]);
            a.hlt();
        });
        Assert.Equal((ProcessorExitKind.Halt, (string?)null), (m.Run(), m.Cpu.Exit.Message));
        Assert.Equal(0x1234, m.Memory.ReadUInt16(0x20010));
        Assert.Equal(0x1234UL, m.State().Regs.Rbx & 0xFFFF);
    }
}
