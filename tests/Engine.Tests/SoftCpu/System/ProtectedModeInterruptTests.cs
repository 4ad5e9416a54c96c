using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>
/// Exceptions and interrupts in 32-bit protected mode (SDM vol. 3A, chapter 6; vol. 2A "INT n"):
/// gate checks and their error codes, the stack switch through the TSS, 16-bit gates, the
/// double-fault rules and the triple fault, INT3/INTO/INT1, the interrupt shadow and single-step traps.
/// </summary>
public class ProtectedModeInterruptTests
{
    private const uint User = 0x20000;

    /// <summary>Code that goes to ring 3 at <paramref name="target"/> with <paramref name="eflags"/> (IRETD).</summary>
    internal static void ToRing3(Assembler a, uint target, uint eflags = 0x2)
    {
        a.push(UserData32);
        a.push((uint)UserStackTop);
        a.push(eflags);
        a.push(UserCode32);
        a.push(target);
        a.iretd();
    }

    private static uint[] Frame(SystemMachine m, int count) => m.Stack(count, 4).Select(v => (uint)v).ToArray();

    [Fact]
    public void IntNThroughAGateTheCplMayNotUseRaisesGpWithTheIdtErrorCode()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        m.Assemble(User, 32, a => a.@int(0x40));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        // Error code: index 0x40, IDT bit, EXT clear (a software interrupt); the return address is the INT itself.
        Assert.Equal([0x40 * 8 + 2, User, UserCode32, 2, (uint)UserStackTop, UserData32], Frame(m, 6));
        Assert.Equal((ulong)StackTop - 24, m.State().Regs.Rsp);
    }

    [Fact]
    public void IntNThroughAUserGateSwitchesToTheRing0StackOfTheTss()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User, 0x202));
        m.SetGate32(0x80, Descriptors.Gate(Code32, Handler(0x80), 0xE, dpl: 3));
        m.Assemble(User, 32, a =>
        {
            a.mov(eax, 5);
            a.@int(0x80);
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x80, m.HaltedVector);
        Assert.Equal([User + 7, UserCode32, 0x202, (uint)UserStackTop, UserData32], Frame(m, 5));
        var s = m.State();
        Assert.Equal(0, s.Cpl);
        Assert.Equal(Data32, s.Sregs.Ss.Selector);
        Assert.Equal(0UL, s.Regs.Rflags & 0x200); // an interrupt gate clears IF
        Assert.Equal(1, m.Memory.ReadByte(Gdt + Data32 + 5) & 1); // SS accessed
    }

    [Fact]
    public void TrapGateKeepsIfAndSixteenBitGatePushesWords()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.sti();
            a.@int(0x41);
        });
        m.SetGate32(0x41, Descriptors.Gate(Code32, Handler(0x41), 0x7, dpl: 0)); // 16-bit trap gate
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x41, m.HaltedVector);
        Assert.Equal([(ulong)CodeBase + 3 & 0xFFFF, Code32, 0x202], m.Stack(3, 2));
        var s = m.State();
        Assert.Equal((ulong)StackTop - 6, s.Regs.Rsp);
        Assert.Equal(0x200UL, s.Regs.Rflags & 0x200);
    }

    [Fact]
    public void ExceptionThroughANotPresentGateRaisesNpWithIdtAndExtBits()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.ud2());
        m.SetGate32(6, Descriptors.Gate(Code32, Handler(6), 0xE, dpl: 0, present: false));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(11, m.HaltedVector);
        Assert.Equal([6 * 8 + 3, (uint)CodeBase, Code32, 2], Frame(m, 4));
    }

    [Fact]
    public void VectorBeyondTheIdtLimitRaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.@int(0x21);
        });
        m.Change(s => s.Sregs.Idt.Limit = 0x21 * 8 + 6);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal(0x21u * 8 + 2, Frame(m, 1)[0]);
    }

    [Fact]
    public void GateToADataSegmentRaisesGpWithTheSelectorAndExt()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.ud2());
        m.SetGate32(6, Descriptors.Gate(Data32, Handler(6), 0xE, dpl: 0));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal(Data32 | 1u, Frame(m, 1)[0]);
    }

    [Fact]
    public void ContributoryFaultWhileDeliveringAContributoryFaultIsADoubleFault()
    {
        // #GP's gate is not present: delivering the #GP raises #NP, and the two make #DF (error code 0).
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 0x1234);
            a.mov(ds, ax);
        });
        m.SetGate32(13, Descriptors.Gate(Code32, Handler(13), 0xE, dpl: 0, present: false));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(8, m.HaltedVector);
        Assert.Equal([0, (uint)CodeBase + 5, Code32, 2], Frame(m, 4));
    }

    [Fact]
    public void PageFaultWhileDeliveringAPageFaultOnTheSameStackShutsDown()
    {
        // 32-bit paging with the page below the stack absent: the page fault's frame cannot be
        // pushed (#PF while delivering #PF: #DF), and neither can the double fault's.
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(esp, 0x50000);
            a.mov(eax, __dword_ptr[0x1F_F000]); // not mapped
        });
        Paging32.IdentityMap(m.Memory, 0x40000);
        Paging32.SetPte(m.Memory, 0x40000, 0x4F000, 0);
        Paging32.SetPte(m.Memory, 0x40000, 0x1F_F000, 0);
        m.Change(s => { s.Sregs.Cr0 |= 0x8000_0000; s.Sregs.Cr3 = 0x40000; });
        Assert.Equal(ProcessorExitKind.Shutdown, m.Run());
        Assert.Equal(0x4F_FFCUL, m.State().Sregs.Cr2);
    }

    [Fact]
    public void BenignExceptionWhileDeliveringAnotherIsDeliveredSerially()
    {
        // INT 0x40's gate is not present: #NP(0x40·8+2) is delivered, not a double fault.
        using var m = new SystemMachine(StartMode.Protected32, a => a.@int(0x40));
        m.SetGate32(0x40, Descriptors.Gate(Code32, Handler(0x40), 0xE, dpl: 0, present: false));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(11, m.HaltedVector);
        Assert.Equal([0x40 * 8 + 2, (uint)CodeBase], Frame(m, 2));
    }

    [Fact]
    public void AnUnusableIdtEndsInATripleFault()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.ud2());
        m.Change(s => s.Sregs.Idt.Limit = 0);
        Assert.Equal(ProcessorExitKind.Shutdown, m.Run());
    }

    [Fact]
    public void ExternalInterruptWhoseGateIsMissingEndsInATripleFault()
    {
        // #GP(vector·8+3) for the interrupt, then #GP again for the #GP (#DF), then shutdown.
        using var m = new SystemMachine(StartMode.Protected32, a => a.nop());
        m.Change(s => { s.Sregs.Idt.Limit = 0; s.Regs.Rflags = 0x202; });
        Assert.Null(m.Cpu.DeliverExternalInterrupt(0x30));
        Assert.Equal(ProcessorExitKind.Shutdown, m.Cpu.Exit.Kind);
    }

    [Fact]
    public void InvalidInnerStackInTheTssRaisesTs()
    {
        // INT 0x80 from ring 3 to ring-1 code; the TSS gives SS1 = 0x10 (RPL 0, DPL 0): #TS(0x10).
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        m.SetGate32(0x80, Descriptors.Gate(Ring1Code32, Handler(0x80), 0xE, dpl: 3));
        m.Memory.WriteUInt32(Tss + 0x10, Data32);
        m.Assemble(User, 32, a => a.@int(0x80));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(10, m.HaltedVector);
        Assert.Equal([Data32, User, UserCode32, 2, (uint)UserStackTop, UserData32], Frame(m, 6));
    }

    [Fact]
    public void NotPresentInnerStackSegmentRaisesSs()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        m.SetGate32(0x80, Descriptors.Gate(Ring1Code32, Handler(0x80), 0xE, dpl: 3));
        m.SetGdt(FreeSlot, Descriptors.Segment(0, 0xFFFF_FFFF, 2, dpl: 1, present: false));
        m.Memory.WriteUInt32(Tss + 0x10, FreeSlot | 1u);
        m.Assemble(User, 32, a => a.@int(0x80));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(12, m.HaltedVector);
        Assert.Equal(FreeSlot, Frame(m, 1)[0]);
    }

    [Fact]
    public void InterruptToRing1UsesTheRing1StackFromTheTss()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        // The ring-1 handler faults on HLT (#GP at ring 1, delivered to ring 0 through ESP0).
        m.SetGate32(0x80, Descriptors.Gate(Ring1Code32, Handler(0x80), 0xE, dpl: 3));
        m.Assemble(User, 32, a => a.@int(0x80));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([0, (uint)Handler(0x80), Ring1Code32, 2, (uint)Ring1StackTop - 20, Ring1Data32], Frame(m, 6));
        // The ring-1 frame: EIP, CS, EFLAGS, ESP, SS of ring 3.
        Assert.Equal(User + 2, m.Memory.ReadUInt32(Ring1StackTop - 20));
        Assert.Equal((uint)UserData32, m.Memory.ReadUInt32(Ring1StackTop - 4));
    }

    [Fact]
    public void Int3AndIntoAreTrapsAndInt1IgnoresTheGateDpl()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        m.SetGate32(3, Descriptors.Gate(Code32, Handler(3), 0xE, dpl: 3));
        m.Assemble(User, 32, a => a.int3());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(3, m.HaltedVector);
        Assert.Equal(User + 1, Frame(m, 1)[0]);

        using var into = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(al, 0x7F);
            a.into(); // OF clear: nothing
            a.add(al, 1);
            a.into();
        });
        Assert.Equal(ProcessorExitKind.Halt, into.Run());
        Assert.Equal(4, into.HaltedVector);
        Assert.Equal((uint)CodeBase + 6, Frame(into, 1)[0]);

        using var int1 = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        int1.Assemble(User, 32, a => a.int1());
        Assert.Equal(ProcessorExitKind.Halt, int1.Run());
        Assert.Equal(1, int1.HaltedVector); // the gate's DPL 0 does not matter for INT1
        Assert.Equal(User + 1, Frame(int1, 1)[0]);
    }

    [Fact]
    public void Int3ThroughAKernelGateFromRing3RaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ToRing3(a, User));
        m.Assemble(User, 32, a => a.int3());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([3 * 8 + 2, User], Frame(m, 2));
    }

    [Fact]
    public void StiAndMovSsHoldInterruptsBackForOneInstruction()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.sti();
            a.nop();
            a.nop();
            a.hlt();
        });
        m.Cpu.RequestInterruptWindow = true;
        Assert.Equal(ProcessorExitKind.InterruptWindow, m.Run());
        Assert.Equal((ulong)CodeBase + 2, m.State().Regs.Rip);

        using var movSs = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, Data32);
            a.mov(ss, ax);
            a.nop();
            a.hlt();
        });
        movSs.Change(s => s.Regs.Rflags = 0x202);
        movSs.Cpu.RequestInterruptWindow = true;
        Assert.Equal(ProcessorExitKind.InterruptWindow, movSs.Run());
        Assert.Equal((ulong)CodeBase, movSs.State().Regs.Rip); // open before anything runs
        movSs.Cpu.RequestInterruptWindow = false;
        Assert.Equal(ProcessorExitKind.InstructionLimit, movSs.Run(2)); // mov eax; mov ss
        Assert.False(movSs.Cpu.CanTakeInterrupt);
        Assert.Equal(ProcessorExitKind.InstructionLimit, movSs.Run(1)); // nop
        Assert.True(movSs.Cpu.CanTakeInterrupt);
    }

    [Fact]
    public void TrapFlagRaisesDebugAfterTheInstructionFollowingPopf()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.pushfd();
            a.or(__dword_ptr[esp], 0x100);
            a.popfd();
            a.mov(ebx, 1); // the trap comes after this one
            a.mov(ebx, 2);
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(1, m.HaltedVector);
        var s = m.State();
        Assert.Equal(1UL, s.Regs.Rbx);
        Assert.Equal([(uint)CodeBase + 14, Code32, 0x102], Frame(m, 3));
        Assert.Equal(1UL << 14, s.DebugRegs.Dr6 & (1UL << 14));
        Assert.Equal(0UL, s.Regs.Rflags & 0x100); // the handler runs without TF
    }

    [Fact]
    public void TrapAfterMovSsWaitsForTheNextInstruction()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, Data32);
            a.pushfd();
            a.or(__dword_ptr[esp], 0x100);
            a.popfd();
            a.mov(ss, ax);
            a.mov(ebx, 1);
            a.mov(ebx, 2);
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(1, m.HaltedVector);
        Assert.Equal(1UL, m.State().Regs.Rbx);
        Assert.Equal((uint)CodeBase + 5 + 1 + 7 + 1 + 3 + 5, Frame(m, 1)[0]); // mov ss, ax is 66 8E D0
    }

    [Fact]
    public void SingleSteppingIntNStopsAtTheHandlersFirstInstruction()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.pushfd();
            a.or(__dword_ptr[esp], 0x100);
            a.popfd();
            a.@int(0x42);
        });
        m.SetGate32(0x42, Descriptors.Gate(Code32, 0x30000, 0xE, dpl: 0));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(1, m.HaltedVector);
        // The #DB after INT n has the handler's address as its return address, and TF clear in its EFLAGS.
        Assert.Equal([0x30000u, Code32, 0x2], Frame(m, 3));
    }
}
