using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>IRET in its 16- and 32-bit forms, task returns, and real-mode interrupts through the IVT.</summary>
public class IretAndRealModeTests
{
    [Fact]
    public void SixteenBitIretInThirtyTwoBitCodePopsWords()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.sub(esp, 6);
            a.mov(__word_ptr[esp], 0x9000);
            a.mov(__word_ptr[esp + 2], Code32);
            a.mov(__word_ptr[esp + 4], 0x0CD7); // OF, DF and the arithmetic flags
            a.iret();
        });
        m.Assemble(0x9000, 32, a => a.hlt());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x9001UL, s.Regs.Rip);
        Assert.Equal(StackTop, s.Regs.Rsp);
        Assert.Equal(0x0CD7UL, s.Regs.Rflags);
    }

    [Fact]
    public void ReplayingAKvmRecordingAnIretEndsTheRunAsItRetiresOnlyWhileAsked()
    {
        // A KVM host whose emulator fails on IRET logged each one as an exit the VMM emulated.
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.pushfd();
            a.push(Code32);
            a.push(0x9000);
            a.iretd();
        });
        m.Assemble(0x9000, 32, a =>
        {
            a.pushfd();
            a.push(Code32);
            a.push(0x9100);
            a.iretd();
        });
        m.Assemble(0x9100, 32, a => a.hlt());
        m.Cpu.ReportsEmulatedInstructions = true;
        Assert.Equal(ProcessorExitKind.Emulated, m.Run());
        Assert.Equal(0x9000UL, m.State().Regs.Rip); // the IRET has retired
        Assert.Equal(4, m.Cpu.InstructionCount);
        m.Cpu.ReportsEmulatedInstructions = false;
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(9, m.Cpu.InstructionCount);
    }

    [Fact]
    public void IretdToRing3NullsMorePrivilegedDataSegmentsAndKeepsIoplAtCpl3()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, UserData32);
            a.mov(es, ax);
            ProtectedModeInterruptTests.ToRing3(a, 0x20000, 0x3202);
        });
        m.Assemble(0x20000, 32, a =>
        {
            a.push(0x0202);  // IOPL 0 requested
            a.popfd();       // at CPL 3 with IOPL 3: IF may change, IOPL may not
            a.pushfd();
            a.pop(ebx);
            a.@int(3);
        });
        m.SetGate32(3, Descriptors.Gate(Code32, Handler(3), 0xE, dpl: 3));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3, m.HaltedVector);
        var s = m.State();
        Assert.Equal(0x3202UL, s.Regs.Rbx);
        Assert.Equal(0, s.Sregs.Ds.Selector);
        Assert.Equal(1, s.Sregs.Ds.Unusable);
        Assert.Equal(UserData32, s.Sregs.Es.Selector);
    }

    [Fact]
    public void IretWithNestedTaskIsReportedAsATaskReturn()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.push(0x4002);
            a.popfd();
            a.iretd();
        });
        Assert.Equal(ProcessorExitKind.Unsupported, m.Run());
        Assert.Contains("task return", m.Cpu.Exit.Message);
        Assert.Equal((ulong)CodeBase + 6, m.State().Regs.Rip); // at the IRETD, after push imm32 and popfd
    }

    [Fact]
    public void RealModeSoftwareInterruptAndIret()
    {
        using var m = new SystemMachine(StartMode.Real, a =>
        {
            a.sti();
            a.@int(0x21);
            a.mov(bx, sp);
            a.hlt();
        });
        m.Memory.WriteUInt32(0x21 * 4, 0x0900_0000); // 0900:0000
        m.Assemble(0x9000, 16, a =>
        {
            a.pushf();
            a.pop(cx);
            a.mov(dx, sp);
            a.iret();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x0002UL, s.Regs.Rcx & 0xFFFF); // IF and TF cleared in the handler
        Assert.Equal(0xFFF0UL - 6, s.Regs.Rdx & 0xFFFF);
        Assert.Equal(0xFFF0UL, s.Regs.Rbx & 0xFFFF);
        Assert.Equal(0x1000, s.Sregs.Cs.Selector);
        Assert.Equal(0x202UL, s.Regs.Rflags);
    }

    [Fact]
    public void RealModeExceptionPushesFlagsCsAndIp()
    {
        using var m = new SystemMachine(StartMode.Real, a =>
        {
            a.nop();
            a.ud2();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(6, m.HaltedVector);
        Assert.Equal([1UL, 0x1000, 0x2], m.Stack(3, 2));
        Assert.Equal(0x0800, m.State().Sregs.Cs.Selector);
    }

    [Fact]
    public void RealModeAddressesWrapAtSixtyFourKibibytes()
    {
        using var m = new SystemMachine(StartMode.Real, a =>
        {
            a.mov(bx, 0xFFF0);
            a.mov(si, 0x20);
            a.mov(__byte_ptr[bx + si], 0x5A); // offset 0x10010 wraps to 0x0010
            a.mov(sp, 0);
            a.push(0x1234);                   // SP wraps to 0xFFFE
            a.mov(cx, sp);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x5A, m.Memory.ReadByte(0x10));
        Assert.Equal(0x1234, m.Memory.ReadUInt16(0xFFFE));
        Assert.Equal(0xFFFEUL, m.State().Regs.Rcx & 0xFFFF);
    }

    [Fact]
    public void SixteenBitProtectedModeOffsetsWrapWithinTheSegment()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.jmp(Code16, 0x9000));
        m.Assemble(0x9000, 16, a =>
        {
            a.mov(ax, Data16);
            a.mov(ds, ax);
            a.mov(bx, 0xFFFF);
            a.mov(__byte_ptr[bx + 2], 0x77); // offset wraps to 0x0001
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x77, m.Memory.ReadByte(0x1));
    }

    [Fact]
    public void LoadingANullSsOrANotPresentSegmentFaults()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([0u, (uint)CodeBase + 2], m.Stack(2, 4).Select(v => (uint)v));

        using var np = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, FreeSlot);
            a.mov(ds, ax);
        });
        np.SetGdt(FreeSlot, Descriptors.Segment(0, 0xFFFF, 2, dpl: 0, present: false));
        Assert.Equal(ProcessorExitKind.Halt, np.Run());
        Assert.Equal(11, np.HaltedVector);
        Assert.Equal((ulong)FreeSlot, np.Stack(1, 4)[0]);

        using var npSs = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, FreeSlot);
            a.mov(ss, ax);
        });
        npSs.SetGdt(FreeSlot, Descriptors.Segment(0, 0xFFFF, 2, dpl: 0, present: false));
        Assert.Equal(ProcessorExitKind.Halt, npSs.Run());
        Assert.Equal(12, npSs.HaltedVector);
        Assert.Equal((ulong)FreeSlot, npSs.Stack(1, 4)[0]);
    }
}
