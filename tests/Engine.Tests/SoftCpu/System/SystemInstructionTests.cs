using Iced.Intel;
using VmReplay.Engine.Cpu;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>Control and debug registers, descriptor-table registers, LLDT/LTR, MSRs (SDM vol. 2, 3A): the checks the SDM gives them.</summary>
public class SystemInstructionTests
{
    private static void Wrmsr(Assembler a, uint msr, ulong value)
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    private static (int Vector, ulong Error) Fault(SystemMachine m, int entrySize)
    {
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        return (m.HaltedVector, m.Stack(1, entrySize)[0]);
    }

    [Fact]
    public void Cr0ReservedBitsAreIgnoredAndEtStaysSet()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 0x0000_0411); // PE, ET and reserved bit 10
            a.mov(cr0, eax);
            a.mov(ebx, cr0);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x11UL, m.State().Regs.Rbx);
    }

    [Fact]
    public void Cr8AcceptsOnlyAPriorityClass()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(eax, 0xA);
            a.mov(cr8, rax);
            a.mov(rbx, cr8);
            a.mov(eax, 0x10);
            a.mov(cr8, rax);
        });
        Assert.Equal((13, 0UL), Fault(m, 8));
        Assert.Equal(0xAUL, m.State().Regs.Rbx);
    }

    [Fact]
    public void DebugRegisters4And5AliasDr6AndDr7OnlyWithoutCr4De()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 0x401);
            a.mov(dr7, eax);
            a.mov(ebx, dr5);  // DR7 while CR4.DE is clear
            a.mov(eax, cr4);
            a.or(eax, 8);
            a.mov(cr4, eax);
            a.mov(ecx, dr4);  // #UD now
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(6, m.HaltedVector);
        Assert.Equal(0x401UL, m.State().Regs.Rbx);
    }

    [Fact]
    public void MovToDr7WithUpperBitsRaisesGpIn64BitMode()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(rax, 0x1_0000_0400);
            a.mov(dr7, rax);
        });
        Assert.Equal((13, 0UL), Fault(m, 8));
    }

    [Fact]
    public void DebugRegisterAccessAtRing3RaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, 0x20000));
        m.Assemble(0x20000, 32, a => a.mov(eax, dr6));
        Assert.Equal((13, 0UL), Fault(m, 4));
    }

    [Fact]
    public void LgdtAndSgdtWithEachOperandSize()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(__word_ptr[0x9000], 0x1234);
            a.mov(__dword_ptr[0x9002], 0xAABB_CCDD);
            a.db(0x66); a.lidt(__[0x9000]);    // 16-bit operand size: a 24-bit base
            a.sidt(__[0x9100]);
            a.lidt(__[0x9000]);                // 32-bit: the whole base
            a.sidt(__[0x9200]);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x1234, m.Memory.ReadUInt16(0x9100));
        Assert.Equal(0x00BB_CCDDu, m.Memory.ReadUInt32(0x9102));
        Assert.Equal(0xAABB_CCDDu, m.Memory.ReadUInt32(0x9202));

        using var m64 = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(__word_ptr[0x9000], 0x0FFF);
            a.mov(rax, 0xFFFF_8000_1234_5000);
            a.mov(__qword_ptr[0x9002], rax);
            a.lidt(__[0x9000]);                // 10 bytes in 64-bit mode
            a.sidt(__[0x9100]);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m64.Run());
        Assert.Equal(0xFFFF_8000_1234_5000UL, m64.State().Sregs.Idt.Base);
        Assert.Equal(0xFFFF_8000_1234_5000UL, m64.Memory.ReadUInt64(0x9102));
    }

    [Fact]
    public void LgdtAtRing3RaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, 0x20000));
        m.Assemble(0x20000, 32, a => a.lgdt(__[0x9000]));
        Assert.Equal((13, 0UL), Fault(m, 4));
    }

    [Fact]
    public void LmswSetsButCannotClearPe()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 0xE); // PE clear, MP EM TS set
            a.lmsw(ax);
            a.smsw(ebx);
            a.clts();
            a.smsw(ecx);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x1FUL, s.Regs.Rbx & 0xFFFF);
        Assert.Equal(0x17UL, s.Regs.Rcx & 0xFFFF);
    }

    [Fact]
    public void LtrMarksTheTssBusyAndRefusesABusyOne()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, FreeSlot);
            a.ltr(ax);
            a.str(ebx);
            a.ltr(ax);       // busy now: #GP(selector)
        });
        m.SetGdt(FreeSlot, Descriptors.System(0x7100, 0x67, 9));
        Assert.Equal((13, (ulong)FreeSlot), Fault(m, 4));
        Assert.Equal(0xBUL, (m.Memory.ReadUInt64(Gdt + FreeSlot) >> 40) & 0xF);
        var s = m.State();
        Assert.Equal((ulong)FreeSlot, s.Regs.Rbx);
        Assert.Equal(0x7100UL, s.Sregs.Tr.Base);
    }

    [Fact]
    public void LtrIn64BitModeTakesTheUpperBaseAndRefusesA16BitTss()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(eax, FreeSlot);
            a.ltr(ax);
            a.mov(eax, FreeSlot + 16);
            a.ltr(ax);
        });
        m.SetGdt(FreeSlot, Descriptors.System(0x7100, 0x67, 9));
        m.Memory.WriteUInt64(Gdt + FreeSlot + 8, 0xFFFF_8000);
        m.SetGdt(FreeSlot + 16, Descriptors.System(0x7200, 0x67, 1));
        Assert.Equal((13, (ulong)FreeSlot + 16), Fault(m, 8));
        Assert.Equal(0xFFFF_8000_0000_7100UL, m.State().Sregs.Tr.Base);
    }

    [Fact]
    public void LldtLoadsAnLdtThatSegmentLoadsThenUse()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, FreeSlot);
            a.lldt(ax);
            a.mov(eax, 0x0C | 4);   // LDT entry 1
            a.mov(es, ax);
            a.mov(__dword_ptr.es[0x10], 0x5555);
            a.xor(eax, eax);
            a.lldt(ax);             // a null LDT
            a.mov(eax, 0x0C | 4);
            a.mov(fs, ax);          // #GP(0x0C): no LDT
        });
        ulong ldt = 0x7400;
        m.SetGdt(FreeSlot, Descriptors.System((uint)ldt, 0xF, 2));
        m.Memory.WriteUInt64(ldt + 8, Descriptors.Segment(0x3000, 0xFFFF, 2, dpl: 0));
        Assert.Equal((13, 0xCUL), Fault(m, 4));
        Assert.Equal(0x5555u, m.Memory.ReadUInt32(0x3010));
        var s = m.State();
        Assert.Equal((ushort)0x0C, s.Sregs.Es.Selector);
        Assert.Equal(1, s.Sregs.Ldt.Unusable);
    }

    [Fact]
    public void MsrsTheProcessorKeepsCheckTheirValues()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            Wrmsr(a, 0x277, 0x0007_0406_0007_0406);  // a valid PAT
            Wrmsr(a, 0x277, 0x0007_0406_0007_0402);  // type 2 is reserved: #GP
        });
        Assert.Equal((13, 0UL), Fault(m, 8));

        using var fmask = new SystemMachine(StartMode.Long64, a => Wrmsr(a, 0xC000_0084, 1UL << 32));
        Assert.Equal((13, 0UL), Fault(fmask, 8));

        using var lstar = new SystemMachine(StartMode.Long64, a => Wrmsr(a, 0xC000_0082, 0x0000_8000_0000_0000));
        Assert.Equal((13, 0UL), Fault(lstar, 8));

        using var efer = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.and(eax, ~0x100);     // clearing LME with paging on: #GP
            a.wrmsr();
        });
        Assert.Equal((13, 0UL), Fault(efer, 8));
    }

    [Fact]
    public void AnMsrTheVmmRefusesRaisesGpAndOneItAnswersReadsItsValue()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(ecx, 0xC001_1029);
            a.rdmsr();              // answered: 0x1234_5678_9ABC_DEF0
            a.mov(r8, rax);
            a.mov(r9, rdx);
            a.mov(ecx, 0xC001_1028);
            a.rdmsr();              // refused: #GP, with RAX and RDX as they were
        });
        Assert.Equal(ProcessorExitKind.MsrRead, m.Run());
        Assert.Equal(0xC001_1029UL, m.Cpu.Exit.Address);
        m.Cpu.Exit.MsrValue = 0x1234_5678_9ABC_DEF0;
        Assert.Equal(ProcessorExitKind.MsrRead, m.Run());
        Assert.Equal(0xC001_1028UL, m.Cpu.Exit.Address);
        m.Cpu.Exit.MsrFailed = true;
        Assert.Equal((13, 0UL), Fault(m, 8));
        var regs = m.State().Regs;
        Assert.Equal((0x9ABC_DEF0UL, 0x1234_5678UL), (regs.R8, regs.R9));
        Assert.Equal((0x9ABC_DEF0UL, 0x1234_5678UL), (regs.Rax, regs.Rdx));
    }

    /// <summary>Replaying a recording made before refused MSRs faulted: a refused read gets the last value the exit held.</summary>
    [Fact]
    public void WithoutRefusedMsrFaultsARefusedReadGetsTheLastValue()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(ecx, 0xC001_1029);
            a.rdmsr();
            a.mov(ecx, 0xC001_1028);
            a.rdmsr();
            a.hlt();
        });
        m.Cpu.RefusedMsrsFault = false;
        Assert.Equal(ProcessorExitKind.MsrRead, m.Run());
        m.Cpu.Exit.MsrValue = 0x1234_5678_9ABC_DEF0;
        Assert.Equal(ProcessorExitKind.MsrRead, m.Run());
        m.Cpu.Exit.MsrFailed = true;
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var regs = m.State().Regs;
        Assert.Equal((0x9ABC_DEF0UL, 0x1234_5678UL), (regs.Rax, regs.Rdx));
    }

    [Fact]
    public void TheMsrsTheProcessorAnswersItselfAreTheOnesKvmIsLeftToAnswer()
    {
        using var m = new SystemMachine(StartMode.Long64, a => a.hlt());
        foreach (var (first, count) in ProcessorMsrs.Ranges)
        {
            for (uint i = first; i < first + count; i++) Assert.True(m.Cpu.TryReadOwnMsr(i, out _), $"msr {i:x}");
            Assert.False(m.Cpu.TryReadOwnMsr(first - 1, out _) && !ProcessorMsrs.Contains(first - 1), $"msr {first - 1:x}");
            Assert.False(m.Cpu.TryReadOwnMsr(first + count, out _) && !ProcessorMsrs.Contains(first + count), $"msr {first + count:x}");
        }
        foreach (var (index, value) in ProcessorMsrs.ResetValues)
        {
            Assert.True(m.Cpu.TryReadOwnMsr(index, out ulong now));
            Assert.Equal(value, now);
        }
        Assert.False(ProcessorMsrs.Contains(MsrModel.Tsc));
        Assert.False(ProcessorMsrs.Contains(0xC001_0140));
    }

    [Fact]
    public void SmepIsOfferedIsRefusedWhereAModelLacksItAndFaultsASupervisorFetchFromAUserPage()
    {
        static void EnableSmep(Assembler a)
        {
            a.mov(rax, cr4);
            a.or(rax, 1 << 20);
            a.mov(cr4, rax);
        }
        var entries = SoftCpuModel.Build().Entries;
        int leaf7 = Array.FindIndex(entries, e => e.Function == 7);
        // The software CPU's own model has SMEP; a recorded model without it refuses the bit.
        Assert.NotEqual(0u, entries[leaf7].Ebx & 1u << 7);
        var withoutSmep = (VmReplay.Engine.Backend.CpuidEntry[])entries.Clone();
        withoutSmep[leaf7] = withoutSmep[leaf7] with { Ebx = withoutSmep[leaf7].Ebx & ~(1u << 7) };
        using var plain = new SystemMachine(StartMode.Long64, EnableSmep, CpuidTable.From(withoutSmep));
        Assert.Equal((13, 0UL), Fault(plain, 8));

        const ulong UserAlias = 0x20_0000;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            EnableSmep(a);
            a.mov(rax, UserAlias + CodeBase);
            a.jmp(rax);
        }, CpuidTable.From(entries));
        // The first 2 MiB for the supervisor; the same memory again at 2 MiB as a user page.
        m.Memory.WriteUInt64(PageTables + 0x2000, 0x83);
        m.Memory.WriteUInt64(PageTables + 0x2000 + 8, 0x87);
        Assert.Equal((14, 0x11UL), Fault(m, 8)); // present | instruction fetch, from the supervisor
        Assert.Equal(UserAlias + CodeBase, m.State().Sregs.Cr2);
    }

    [Fact]
    public void RfLoadedByIretLastsUntilTheNextInstructionCompletes()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            var back = a.CreateLabel();
            a.mov(rcx, rsp);
            a.push(0);                            // SS: null, allowed at CPL0 in 64-bit mode
            a.push(rcx);
            a.pushfq();
            a.or(__qword_ptr[rsp], 0x10000);      // RF, as a stop between REP iterations pushes it
            a.push(Code64);
            a.lea(rax, __[back]);
            a.push(rax);
            a.iretq();
            a.Label(ref back);
            a.nop();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(9));
        Assert.Equal(0x10000UL, m.State().Regs.Rflags & 0x10000);
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(1));
        Assert.Equal(0UL, m.State().Regs.Rflags & 0x10000);
    }

    [Fact]
    public void CpuidAdvertisesSepAndSyscall()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 1);
            a.cpuid();
            a.mov(esi, edx);
            a.mov(eax, 0x8000_0001);
            a.cpuid();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.NotEqual(0UL, s.Regs.Rsi & (1 << 11));
        Assert.NotEqual(0UL, s.Regs.Rdx & (1 << 11));
    }
}
