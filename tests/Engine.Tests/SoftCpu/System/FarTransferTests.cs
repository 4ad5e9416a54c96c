using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>Far JMP, CALL and RET (SDM vol. 2A/2B): real mode, same privilege, call gates, returns to an outer level.</summary>
public class FarTransferTests
{
    private const uint User = 0x20000, Kernel = 0x30000;
    private const ushort Gate = FreeSlot, Gate3 = FreeSlot | 3;

    private static uint[] Frame(SystemMachine m, int count) => m.Stack(count, 4).Select(v => (uint)v).ToArray();

    [Fact]
    public void RealModeFarCallAndReturn()
    {
        using var m = new SystemMachine(StartMode.Real, a =>
        {
            a.call(0x2000, 0x0010);
            a.mov(cx, 1);
            a.hlt();
        });
        m.Assemble(0x20010, 16, a =>
        {
            a.mov(ax, sp);
            a.retf(2);
        });
        m.Change(s => s.Regs.Rsp = 0xF000);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0xEFFCUL, s.Regs.Rax & 0xFFFF); // IP and CS pushed as words
        Assert.Equal(0x1000, m.Memory.ReadUInt16(0xEFFE));
        Assert.Equal(5, m.Memory.ReadUInt16(0xEFFC));
        Assert.Equal(0xF002UL, s.Regs.Rsp); // the return released 2 more bytes
        Assert.Equal(0x1000, s.Sregs.Cs.Selector);
        Assert.Equal(1UL, s.Regs.Rcx);
    }

    [Fact]
    public void FarJumpToACodeSegmentChangesTheCodeSize()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.jmp(Code16, 0x9000));
        m.Assemble(0x9000, 16, a =>
        {
            a.mov(eax, 0x12345678); // 66 B8 in 16-bit code
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(Code16, s.Sregs.Cs.Selector);
        Assert.Equal(0x12345678UL, s.Regs.Rax);
        Assert.Equal(0x9007UL, s.Regs.Rip);
    }

    [Fact]
    public void FarJumpBeyondTheTargetsLimitRaisesGp0()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.jmp(Code16, 0x10000));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([0u, (uint)CodeBase], Frame(m, 2));
    }

    [Fact]
    public void FarCallToAMorePrivilegedCodeSegmentRaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.Assemble(User, 32, a => a.call(Code32, Kernel));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([Code32, User], Frame(m, 2));
    }

    [Fact]
    public void CallGateToRing0CopiesParametersAndFarReturnGoesBackToRing3()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(Gate, Descriptors.Gate(Code32, Kernel, 0xC, dpl: 3, parameters: 2));
        m.Assemble(User, 32, a =>
        {
            a.mov(eax, UserData32);
            a.mov(es, ax);
            a.push(0x11111111);
            a.push(0x22222222);
            a.call(Gate3, 0);          // the offset is the gate's
            a.mov(ebx, esp);
            a.hlt();                    // #GP at ring 3
        });
        m.Assemble(Kernel, 32, a =>
        {
            a.mov(eax, Data32);
            a.mov(ds, ax);              // DS at DPL 0: nulled by the return to ring 3
            a.hlt();
            a.retf(8);
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(-1, m.HaltedVector);
        // In the kernel: EIP, CS, the two parameters in their order, ESP, SS of ring 3.
        Assert.Equal((ulong)StackTop - 24, m.State().Regs.Rsp);
        Assert.Equal(0, m.State().Cpl);
        Assert.Equal([User + 25, UserCode32, 0x22222222, 0x11111111, (uint)UserStackTop - 8, UserData32], Frame(m, 6));

        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        // Back at ring 3 with both parameters released from the caller's stack; DS null, ES kept.
        Assert.Equal(UserStackTop, s.Regs.Rbx);
        Assert.Equal([0, User + 27, UserCode32], Frame(m, 3));
        Assert.Equal(0, s.Sregs.Ds.Selector);
        Assert.Equal(1, s.Sregs.Ds.Unusable);
        Assert.Equal(UserData32, s.Sregs.Es.Selector);
    }

    [Fact]
    public void SixteenBitCallGateCopiesWords()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(Gate, Descriptors.Gate(Code32, 0x9000, 0x4, dpl: 3, parameters: 1));
        m.Assemble(User, 32, a =>
        {
            a.push(0x7777_1234);
            a.call(Gate3, 0);
        });
        m.Assemble(0x9000, 32, a => a.hlt());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x9001UL, s.Regs.Rip);
        Assert.Equal((ulong)StackTop - 10, s.Regs.Rsp);
        // IP, CS, the parameter's low word, SP, SS: words.
        Assert.Equal(new ulong[] { (User + 12) & 0xFFFF, UserCode32, 0x1234, (UserStackTop - 4) & 0xFFFF, UserData32 }, m.Stack(5, 2));
    }

    [Fact]
    public void CallGateChecksItsDplAndPresence()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(Gate, Descriptors.Gate(Code32, Kernel, 0xC, dpl: 0));
        m.Assemble(User, 32, a => a.call(Gate3, 0));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal((uint)Gate, Frame(m, 1)[0]);

        using var absent = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        absent.SetGdt(Gate, Descriptors.Gate(Code32, Kernel, 0xC, dpl: 3, present: false));
        absent.Assemble(User, 32, a => a.call(Gate3, 0));
        Assert.Equal(ProcessorExitKind.Halt, absent.Run());
        Assert.Equal(11, absent.HaltedVector);
        Assert.Equal((uint)Gate, Frame(absent, 1)[0]);
    }

    [Fact]
    public void JumpThroughACallGateCannotChangePrivilege()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(Gate, Descriptors.Gate(Code32, Kernel, 0xC, dpl: 3));
        m.Assemble(User, 32, a => a.jmp(Gate3, 0));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([Code32, User], Frame(m, 2));
    }

    [Fact]
    public void JumpThroughACallGateAtTheSameLevel()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.jmp(Gate, 0));
        m.SetGdt(Gate, Descriptors.Gate(Code32, 0x9000, 0xC, dpl: 0));
        m.Assemble(0x9000, 32, a => a.hlt());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x9001UL, s.Regs.Rip);
        Assert.Equal(Code32, s.Sregs.Cs.Selector);
        Assert.Equal(StackTop, s.Regs.Rsp);
    }

    [Fact]
    public void FarReturnToAnOuterLevelChecksTheStackSegment()
    {
        // RETF at ring 0 to ring-3 code with SS = 0x10 (RPL 0): #GP(0x10).
        Label retf = default;
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            retf = a.CreateLabel();
            a.push(Data32);
            a.push((uint)UserStackTop);
            a.push(UserCode32);
            a.push(User);
            a.Label(ref retf);
            a.retf();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([Data32, (uint)m.Address(retf)], Frame(m, 2));
        Assert.Equal(0, m.State().Cpl);
    }

    [Fact]
    public void FarCallWhoseFramePageFaultsChangesNothing()
    {
        // The stack's lower page is absent and ESP is 4 bytes above it: CS is pushed on the
        // present page, EIP would not be; nothing may be written.
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(esp, 0x50004);
            a.call(Code32, 0x9000);
        });
        Paging32.IdentityMap(m.Memory, 0x40000);
        Paging32.SetPte(m.Memory, 0x40000, 0x4F000, 0);
        m.Memory.WriteUInt32(0x50000, 0xAAAA_AAAA);
        m.Change(s => { s.Sregs.Cr0 |= 0x8000_0000; s.Sregs.Cr3 = 0x40000; });
        // The #PF cannot be delivered on that stack either: #DF, then shutdown.
        Assert.Equal(ProcessorExitKind.Shutdown, m.Run());
        var s = m.State();
        Assert.Equal(0xAAAA_AAAAu, m.Memory.ReadUInt32(0x50000));
        Assert.Equal(0x50004UL, s.Regs.Rsp);
        Assert.Equal(Code32, s.Sregs.Cs.Selector);
    }

    [Fact]
    public void SixtyFourBitCallGateToRing0AndFarReturnToRing3()
    {
        Label user = default, target = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            user = a.CreateLabel(); target = a.CreateLabel();
            a.push(0x23);
            a.push((int)UserStackTop);
            a.push(0x2);
            a.push(0x33);
            a.lea(rax, __[user]);
            a.push(rax);
            a.iretq();
            a.Label(ref user);
            a.lea(rbx, __[target]);
            a.call(__tword_ptr[rbx]);   // REX.W far call through m16:64
            a.mov(rdi, rsp);
            a.hlt();
            a.Label(ref target);
            a.dq(0);
            a.dw(Gate3);
        });
        m.SetGdt(Gate, Descriptors.Gate64(Code64, Kernel, 0xC, dpl: 3).Low);
        m.Memory.WriteUInt64(Gdt + Gate + 8, 0);
        m.Assemble(Kernel, 64, a =>
        {
            a.hlt();
            a.db(0x48, 0xCB); // retfq: RIP, CS, RSP, SS
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(-1, m.HaltedVector);
        var k = m.State();
        Assert.Equal(StackTop - 32, k.Regs.Rsp);
        Assert.Equal(0, k.Sregs.Ss.Selector); // a null SS with the new CPL as its RPL
        Assert.Equal(0, k.Cpl);
        Assert.Equal([m.Address(user) + 7 + 3, UserCode64, UserStackTop, 0x23], m.Stack(4, 8));

        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        Assert.Equal(UserStackTop, s.Regs.Rdi);
        Assert.Equal(UserCode64, (ushort)m.Stack(3, 8)[2]);
    }

    [Fact]
    public void FarCallToATssIsReportedAsNotEmulated()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.call(FreeSlot, 0));
        m.SetGdt(FreeSlot, Descriptors.System(0x7100, 0x67, 9));
        Assert.Equal(ProcessorExitKind.Unsupported, m.Run());
        Assert.Contains("task switch", m.Cpu.Exit.Message);
        Assert.Equal((ulong)CodeBase, m.State().Regs.Rip);
    }
}
