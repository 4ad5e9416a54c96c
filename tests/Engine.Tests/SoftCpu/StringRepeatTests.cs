using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// What the host CPU cannot show: each REP iteration retires as one instruction, so a run limit
/// stops inside a REP instruction with its registers at that iteration; and 16-bit address sizes
/// (real mode), where SI and DI wrap within 16 bits.
/// </summary>
public class StringRepeatTests
{
    [Fact]
    public void EachIterationRetiresAndARunLimitStopsBetweenIterations()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rdi, 0x20000);
            a.mov(rcx, 100);
            a.mov(al, 0x5A);
            a.rep.stosb();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(limit: 3 + 10));
        var s = m.State();
        Assert.Equal(90UL, s.Regs.Rcx);
        Assert.Equal(0x2000AUL, s.Regs.Rdi);
        Assert.Equal(0xAAF3, m.Memory.ReadUInt16(s.Regs.Rip)); // still at the REP STOSB
        Assert.Equal(0x5A, m.Memory.ReadByte(0x20009));
        Assert.Equal(0, m.Memory.ReadByte(0x2000A));

        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3 + 100 + 1, m.Cpu.InstructionCount);
        Assert.Equal(0UL, m.State().Regs.Rcx);
        Assert.Equal(0x5A, m.Memory.ReadByte(0x20063));
        Assert.Equal(0, m.Memory.ReadByte(0x20064));
    }

    /// <summary>
    /// Looking for a point a KVM recording holds, a REP instruction at that address stays there
    /// once when its count runs out (as KVM's emulator can leave it), and moves on when run again.
    /// </summary>
    [Fact]
    public void AnExhaustedRepeatStaysAtItsAddressOnceWhereAsked()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rdi, 0x20000);
            a.mov(rcx, 4);
            a.mov(al, 0x5A);
            a.rep.stosb();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(limit: 3));
        ulong rep = m.State().Regs.Rip;
        m.Cpu.ExhaustedRepeatStaysAt = rep;
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(limit: 4));
        var s = m.State();
        Assert.Equal((0UL, 0x20004UL, rep), (s.Regs.Rcx, s.Regs.Rdi, s.Regs.Rip));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3 + 4 + 1 + 1, m.Cpu.InstructionCount); // the count-0 execution retires too
        Assert.Equal(0x5A, m.Memory.ReadByte(0x20003));
        Assert.Equal(0, m.Memory.ReadByte(0x20004));
    }

    [Fact]
    public void ARepeatWithAZeroCountRetiresOnce()
    {
        using var m = new SoftCpuMachine(32, a =>
        {
            a.xor(ecx, ecx);
            a.rep.movsd();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3, m.Cpu.InstructionCount);
    }

    [Fact]
    public void SixteenBitAddressesWrapWithinTheirSegment()
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            a.mov(ax, 0x2000);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(__byte_ptr[0xFFFF], 0x11);
            a.mov(__byte_ptr[0x0000], 0x22);
            a.mov(__byte_ptr[0x0001], 0x33);
            a.mov(esi, 0x1234_FFFF);  // bits 31:16 are not part of a 16-bit address, and stay
            a.mov(di, 0x100);
            a.mov(ecx, 0xABCD_0003);
            a.rep.movsb();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x1234_0002UL, s.Regs.Rsi);
        Assert.Equal(0x103UL, s.Regs.Rdi & 0xFFFF);
        Assert.Equal(0xABCD_0000UL, s.Regs.Rcx);
        Assert.Equal(0x11, m.Memory.ReadByte(0x20100));
        Assert.Equal(0x22, m.Memory.ReadByte(0x20101));
        Assert.Equal(0x33, m.Memory.ReadByte(0x20102));
    }

    [Fact]
    public void RepneScasStopsAtTheMatchWithSixteenBitCount()
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            a.mov(ax, 0x2000);
            a.mov(es, ax);
            a.mov(di, 0);
            a.mov(cx, 0x40);
            a.mov(al, 0x41);
            a.repne.scasb();
            a.hlt();
        });
        m.Memory.WriteByte(0x20007, 0x41);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(8UL, s.Regs.Rdi & 0xFFFF);
        Assert.Equal(0x40UL - 8, s.Regs.Rcx & 0xFFFF);
        Assert.Equal(0x40UL, s.Regs.Rflags & 0x40); // ZF: found
    }

    [Fact]
    public void ALongRepeatRunsInSeveralCallsAndCountsEveryIteration()
    {
        const int count = 200_000; // over three times StringInstructions.IterationsPerCall
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(edi, 0x100000);
            a.mov(ecx, count);
            a.mov(al, 0xEE);
            a.rep.stosb();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3 + count + 1, m.Cpu.InstructionCount);
        Assert.Equal(0xEE, m.Memory.ReadByte(0x100000 + count - 1));
        Assert.Equal(0, m.Memory.ReadByte(0x100000 + count));
    }

    [Fact]
    public void TheIterationsBeforeAFaultRetireAndTheRegistersStopAtTheFaultingOne()
    {
        // The machine maps the first 2 MiB only: the 17th byte faults (and, with no IDT, shuts down).
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(edi, 0x1F_FFF0);
            a.mov(ecx, 0x20);
            a.rep.stosb();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Shutdown, m.Run());
        Assert.Equal(2 + 16, m.Cpu.InstructionCount);
        var s = m.State();
        Assert.Equal(0x10UL, s.Regs.Rcx);
        Assert.Equal(0x20_0000UL, s.Regs.Rdi);
    }
}
