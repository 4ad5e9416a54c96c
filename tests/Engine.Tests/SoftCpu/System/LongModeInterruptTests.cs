using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>Interrupts and exceptions in IA-32e mode (SDM vol. 3A, 6.14): RSP0-2, IST, the 64-bit frame, compatibility mode.</summary>
public class LongModeInterruptTests
{
    private const ulong User = 0x20000, Kernel = 0x30000;

    /// <summary>IRETQ to ring-3 code at <paramref name="target"/>, 64-bit or (with <paramref name="compatibility"/>) 32-bit.</summary>
    internal static void ToRing3(Assembler a, ulong target, bool compatibility = false, int rflags = 0x2)
    {
        a.push(UserData32);
        a.push((int)UserStackTop);
        a.push(rflags);
        a.push(compatibility ? UserCode32 : UserCode64);
        a.mov(rax, target);
        a.push(rax);
        a.iretq();
    }

    /// <summary>Replaces the 2 MiB identity page with 4 KiB pages (a page table at 0x4000), so single pages can be unmapped.</summary>
    internal static void SmallPages(SystemMachine m)
    {
        const ulong table = 0x4000;
        for (ulong i = 0; i < 512; i++) m.Memory.WriteUInt64(table + i * 8, i * 0x1000 | 7);
        m.Memory.WriteUInt64(PageTables + 0x2000, table | 7);
    }

    internal static void Unmap(SystemMachine m, ulong linear) => m.Memory.WriteUInt64(0x4000 + (linear >> 12) * 8, 0);

    [Fact]
    public void InterruptFromRing3SwitchesToRsp0WithANullSsAndIretqReturns()
    {
        using var m = new SystemMachine(StartMode.Long64, a => ToRing3(a, User, rflags: 0x202));
        m.SetGate64(0x80, Descriptors.Gate64(Code64, Kernel, 0xE, dpl: 3));
        m.Assemble(User, 64, a =>
        {
            a.mov(esi, 0x11);
            a.@int(0x80);
            a.mov(rdi, rsp);
            a.hlt(); // #GP at ring 3
        });
        m.Assemble(Kernel, 64, a =>
        {
            a.mov(rbx, rsp);
            a.mov(r8, ss);
            a.iretq();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        Assert.Equal(StackTop - 40, s.Regs.Rbx);
        Assert.Equal(0UL, s.Regs.R8); // SS = null selector, RPL 0
        Assert.Equal(UserStackTop, s.Regs.Rdi);
        // The #GP frame: error code, RIP, CS, RFLAGS, RSP, SS (ring 3 again after IRETQ).
        Assert.Equal([0, User + 7 + 3, UserCode64, 0x202, UserStackTop, UserData32], m.Stack(6, 8));
    }

    [Fact]
    public void GateErrorCodesNameTheVectorTimesEightIn64BitMode()
    {
        using var m = new SystemMachine(StartMode.Long64, a => ToRing3(a, User));
        m.Assemble(User, 64, a => a.@int(0x80));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([0x80 * 8 + 2, User], m.Stack(2, 8));
    }

    [Fact]
    public void ExternalInterruptThroughAThirtyTwoBitTypeGateRaisesGpWithExt()
    {
        using var m = new SystemMachine(StartMode.Long64, a => a.hlt());
        m.SetGate64(0x30, (Descriptors.Gate(Code64, Kernel, 0x6, dpl: 0), 0)); // a 16-bit interrupt gate: invalid in IA-32e mode
        m.Change(s => s.Regs.Rflags = 0x202);
        Assert.Null(m.Cpu.DeliverExternalInterrupt(0x30));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal([0x30 * 8 + 3, CodeBase], m.Stack(2, 8));
    }

    [Fact]
    public void IstStackIsAlignedAndUsedEvenWithoutAPrivilegeChange()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(esp, 0x60008);
            a.ud2();
        });
        m.SetGate64(6, Descriptors.Gate64(Code64, Handler(6), 0xE, dpl: 0, ist: 2));
        m.Memory.WriteUInt64(Tss + 0x24 + 8, 0x7B008); // IST2, not 16-byte aligned
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(6, m.HaltedVector);
        Assert.Equal(0x7B000UL - 40, m.State().Regs.Rsp);
        Assert.Equal([CodeBase + 5, Code64, 0x2, 0x60008, Data32], m.Stack(5, 8));
    }

    [Fact]
    public void StackOverflowIntoAnUnmappedPageBecomesADoubleFaultOnItsIstStack()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(esp, 0x50010);
            a.ud2();
        });
        SmallPages(m);
        Unmap(m, 0x4F000);
        m.SetGate64(8, Descriptors.Gate64(Code64, Handler(8), 0xE, dpl: 0, ist: 1));
        // #UD's frame crosses into the absent page (#PF, delivered on the same stack: #PF again, #DF).
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(8, m.HaltedVector);
        var s = m.State();
        Assert.Equal(IstTop - 48, s.Regs.Rsp);
        Assert.Equal([0, CodeBase + 5, Code64, 0x2, 0x50010, Data32], m.Stack(6, 8));
        // SS and RSP went onto the present page; RFLAGS was the first quadword that could not be pushed.
        Assert.Equal(0x4FFF8UL, s.Sregs.Cr2);
        Assert.Equal(0UL, m.Memory.ReadUInt64(0x50008)); // nothing of the failed frames was written
    }

    [Fact]
    public void InterruptFromCompatibilityModeAndIretqBackToIt()
    {
        using var m = new SystemMachine(StartMode.Long64, a => ToRing3(a, User, compatibility: true));
        m.SetGate64(0x80, Descriptors.Gate64(Code64, Kernel, 0xF, dpl: 3));
        m.Assemble(User, 32, a =>
        {
            a.mov(esi, 0x22);
            a.@int(0x80);
            a.mov(edi, esp);
            a.hlt();
        });
        m.Assemble(Kernel, 64, a =>
        {
            a.mov(rbx, rsp);
            a.mov(rcx, __qword_ptr[rsp + 8]);
            a.iretq();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        Assert.Equal(StackTop - 40, s.Regs.Rbx);
        Assert.Equal((ulong)UserCode32, s.Regs.Rcx);
        Assert.Equal(UserStackTop, s.Regs.Rdi);
        Assert.Equal([0, User + 9, UserCode32], m.Stack(3, 8));
    }

    [Fact]
    public void IretqAtTheSameLevelPopsSsAndRspAndNullsNothing()
    {
        Label back = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            back = a.CreateLabel();
            a.mov(rax, rsp);
            a.push(Data32);
            a.push(0x6000);
            a.push(0x202);
            a.push(Code64);
            a.lea(rcx, __[back]);
            a.push(rcx);
            a.iretq();
            a.Label(ref back);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x6000UL, s.Regs.Rsp);
        Assert.Equal(0x202UL, s.Regs.Rflags);
        Assert.Equal(Data32, s.Sregs.Ds.Selector);
    }

    [Fact]
    public void IretqToRing3NullsDataSegmentsOfAMorePrivilegedLevel()
    {
        using var m = new SystemMachine(StartMode.Long64, a => ToRing3(a, User));
        m.Assemble(User, 64, a => a.hlt());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal(0, s.Sregs.Ds.Selector);
        Assert.Equal(0, s.Sregs.Es.Selector);
        Assert.Equal(1, s.Sregs.Fs.Unusable);
    }
}
