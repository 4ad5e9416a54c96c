using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.Paging32;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>
/// Paging through the processor's MMU (SDM vol. 3A, chapter 4): 32-bit with 4 KiB and 4 MiB
/// pages, PAE, 4-level; #PF error codes and CR2; accessed and dirty bits; INVLPG and CR3, CR0
/// and CR4 writes taking effect; page-crossing accesses.
/// </summary>
public class PagingTests
{
    private const uint Directory = 0x40000, User = 0x20000;
    private const uint Probe = 0x60000; // the page the tests map, unmap and protect

    /// <summary>A 32-bit protected-mode machine with 32-bit paging on (identity map of 2 MiB, user, writable).</summary>
    private static SystemMachine Paged32(Action<Iced.Intel.Assembler> program, bool wp = false)
    {
        var m = new SystemMachine(StartMode.Protected32, program);
        IdentityMap(m.Memory, Directory);
        m.Change(s =>
        {
            s.Sregs.Cr0 |= 0x8000_0000 | (wp ? 1UL << 16 : 0);
            s.Sregs.Cr3 = Directory;
            s.Sregs.Cr4 |= 0x10; // PSE
        });
        return m;
    }

    private static (int Vector, uint Error, ulong Cr2) PageFault(SystemMachine m)
    {
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        return (m.HaltedVector, (uint)m.Stack(1, 4)[0], m.State().Sregs.Cr2);
    }

    [Fact]
    public void NotPresentPageRaisesPfWithCr2()
    {
        using var m = Paged32(a => a.mov(eax, __dword_ptr[Probe + 0x10]));
        SetPte(m.Memory, Directory, Probe, 0);
        Assert.Equal((14, 0u, (ulong)Probe + 0x10), PageFault(m));
        Assert.Equal((uint)CodeBase, (uint)m.Stack(2, 4)[1]);
    }

    [Fact]
    public void SupervisorWriteToAReadOnlyPageFaultsOnlyWithCr0Wp()
    {
        using var noWp = Paged32(a =>
        {
            a.mov(__dword_ptr[Probe], 0x1234);
            a.hlt();
        });
        SetPte(noWp.Memory, Directory, Probe, Probe | Present);
        Assert.Equal(ProcessorExitKind.Halt, noWp.Run());
        Assert.Equal(-1, noWp.HaltedVector);
        Assert.Equal(0x1234u, noWp.Memory.ReadUInt32(Probe));

        using var wp = Paged32(a => a.mov(__dword_ptr[Probe], 0x1234), wp: true);
        SetPte(wp.Memory, Directory, Probe, Probe | Present);
        Assert.Equal((14, 3u, (ulong)Probe), PageFault(wp));
        Assert.Equal(0u, wp.Memory.ReadUInt32(Probe));
    }

    [Fact]
    public void SettingCr0WpTakesEffectForTranslationsAlreadyUsed()
    {
        using var m = Paged32(a =>
        {
            a.mov(__dword_ptr[Probe], 1);   // allowed: WP clear
            a.mov(eax, cr0);
            a.or(eax, 1 << 16);
            a.mov(cr0, eax);
            a.mov(__dword_ptr[Probe], 2);   // now a fault
        });
        SetPte(m.Memory, Directory, Probe, Probe | Present | Dirty | Accessed);
        Assert.Equal((14, 3u, (ulong)Probe), PageFault(m));
        Assert.Equal(1u, m.Memory.ReadUInt32(Probe));
    }

    [Fact]
    public void UserAccessToASupervisorPageRaisesPfWithTheUserBit()
    {
        using var m = Paged32(a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.Assemble(User, 32, a => a.mov(__dword_ptr[Probe], 5));
        SetPte(m.Memory, Directory, Probe, Probe | Present | Writable);
        Assert.Equal((14, 7u, (ulong)Probe), PageFault(m)); // present, write, user
        Assert.Equal((uint)User, (uint)m.Stack(2, 4)[1]);

        using var read = Paged32(a => ProtectedModeInterruptTests.ToRing3(a, User));
        read.Assemble(User, 32, a => a.mov(eax, __dword_ptr[Probe]));
        SetPte(read.Memory, Directory, Probe, 0);
        Assert.Equal((14, 4u, (ulong)Probe), PageFault(read)); // not present, read, user
    }

    [Fact]
    public void UserFetchFromASupervisorPageFaults()
    {
        using var m = Paged32(a => ProtectedModeInterruptTests.ToRing3(a, Probe));
        m.Assemble(Probe, 32, a => a.nop());
        SetPte(m.Memory, Directory, Probe, Probe | Present | Writable);
        // 32-bit paging has no NX: the I/D bit is reported only where NX could apply (SDM 4.7).
        Assert.Equal((14, 5u, (ulong)Probe), PageFault(m));
    }

    [Fact]
    public void AccessedAndDirtyBitsAreSetByReadsAndWrites()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[Probe]);
            a.mov(__dword_ptr[Probe + 0x1000], eax);
            a.hlt();
        });
        SetPte(m.Memory, Directory, Probe, Probe | Present | Writable);
        SetPte(m.Memory, Directory, Probe + 0x1000, (Probe + 0x1000) | Present | Writable);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(Probe | Present | Writable | Accessed, m.Memory.ReadUInt32(PteAddress(Directory, Probe)));
        Assert.Equal((Probe + 0x1000) | Present | Writable | Accessed | Dirty, m.Memory.ReadUInt32(PteAddress(Directory, Probe + 0x1000)));
        Assert.Equal(Accessed, m.Memory.ReadUInt32(Directory) & (Accessed | Dirty)); // a directory entry has no dirty bit to set
    }

    [Fact]
    public void FourMebibytePagesWithPse()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[0x4000_0000 + Probe]);
            a.mov(__dword_ptr[0x4000_0004 + Probe], 0x99);
            a.hlt();
        });
        m.Memory.WriteUInt32(Probe, 0xCAFE);
        m.Memory.WriteUInt32(Directory + (0x4000_0000 >> 22) * 4, Present | Writable | Large); // 1 GiB linear -> physical 0
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0xCAFEUL, m.State().Regs.Rax);
        Assert.Equal(0x99u, m.Memory.ReadUInt32(Probe + 4));
        Assert.Equal(Present | Writable | Large | Accessed | Dirty, m.Memory.ReadUInt32(Directory + (0x4000_0000 >> 22) * 4));
    }

    [Fact]
    public void ReservedBitInAFourMebibyteEntryRaisesPfWithRsvd()
    {
        using var m = Paged32(a => a.mov(eax, __dword_ptr[0x4000_0000]));
        m.Memory.WriteUInt32(Directory + (0x4000_0000 >> 22) * 4, Present | Large | (1u << 21));
        Assert.Equal((14, 9u, 0x4000_0000UL), PageFault(m));
    }

    [Fact]
    public void InvlpgDropsAStaleTranslation()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[Probe]);                             // fills the TLB: page 0x60000
            a.mov(__dword_ptr[(uint)PteAddress(Directory, Probe)], 0x61000 | Present | Writable);
            a.invlpg(__[Probe]);
            a.mov(ebx, __dword_ptr[Probe]);                             // page 0x61000 now
            a.hlt();
        });
        SetPte(m.Memory, Directory, Probe, Probe | Present | Writable);
        m.Memory.WriteUInt32(Probe, 1);
        m.Memory.WriteUInt32(0x61000, 2);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal((1UL, 2UL), (s.Regs.Rax, s.Regs.Rbx));
    }

    [Fact]
    public void InvlpgOfAnyAddressInALargePageDropsAllOfIt()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[0x4000_0000 + Probe]);             // a 4 KiB piece of the 4 MiB page
            a.mov(__dword_ptr[Directory + (0x4000_0000 >> 22) * 4], 0);
            a.invlpg(__[0x4000_0000]);                                // another piece of it
            a.mov(ebx, __dword_ptr[0x4000_0000 + Probe]);
        });
        m.Memory.WriteUInt32(Directory + (0x4000_0000 >> 22) * 4, Present | Writable | Large);
        Assert.Equal((14, 0u, 0x4000_0000UL + Probe), PageFault(m));
    }

    [Fact]
    public void WritingCr3SwitchesToTheNewTables()
    {
        const uint second = 0x42000;
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[Probe]);
            a.mov(ecx, second);
            a.mov(cr3, ecx);
            a.mov(ebx, __dword_ptr[Probe]);
            a.hlt();
        });
        IdentityMap(m.Memory, second);
        SetPte(m.Memory, second, Probe, 0x61000 | Present | Writable);
        m.Memory.WriteUInt32(Probe, 1);
        m.Memory.WriteUInt32(0x61000, 2);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal((1UL, 2UL), (s.Regs.Rax, s.Regs.Rbx));
    }

    [Fact]
    public void ClearingCr4PseTakesEffect()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, __dword_ptr[0x4000_0000 + Probe]);
            a.mov(ecx, cr4);
            a.and(ecx, ~0x10);
            a.mov(cr4, ecx);
            a.mov(ebx, __dword_ptr[0x4000_0000 + Probe]); // the entry now points at a page table: its entry for 0x60000 is absent
        });
        // Physical 0 as a 4 MiB page, or as a page table (whose entry for 0x60000 is 0) without PSE.
        m.Memory.WriteUInt32(Directory + (0x4000_0000 >> 22) * 4, Present | Writable | Large);
        Assert.Equal((14, 0u, 0x4000_0000UL + Probe), PageFault(m));
    }

    [Fact]
    public void WriteCrossingIntoAnAbsentPageChangesNothingAndReportsTheSecondPage()
    {
        using var m = Paged32(a =>
        {
            a.mov(eax, 0x11223344);
            a.mov(__dword_ptr[Probe - 2], eax);
        });
        SetPte(m.Memory, Directory, Probe, 0);
        m.Memory.WriteUInt16(Probe - 2, 0xBEEF);
        Assert.Equal((14, 2u, (ulong)Probe), PageFault(m));
        Assert.Equal(0xBEEF, m.Memory.ReadUInt16(Probe - 2));
    }

    [Fact]
    public void PaePagingWithNxRaisesAnInstructionFetchFault()
    {
        const uint pdpt = 0x44000, pd = 0x45000, pt = 0x46000;
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, __dword_ptr[Probe]);
            a.mov(ecx, Probe);
            a.call(ecx);
        });
        m.Memory.WriteUInt64(pdpt, pd | Present);
        m.Memory.WriteUInt64(pd, pt | Present | Writable);
        for (ulong i = 0; i < 512; i++) m.Memory.WriteUInt64(pt + i * 8, i * 0x1000 | Present | Writable);
        m.Memory.WriteUInt64(pt + (Probe >> 12) * 8, Probe | Present | Writable | 1UL << 63);
        m.Memory.WriteUInt32(Probe, 0x90909090);
        m.Change(s =>
        {
            s.Sregs.Cr4 |= 0x20;
            s.Sregs.Efer |= 1UL << 11;
            s.Sregs.Cr3 = pdpt;
            s.Sregs.Cr0 |= 0x8000_0000;
        });
        Assert.Equal((14, 0x11u, (ulong)Probe), PageFault(m)); // present, instruction fetch
        Assert.Equal(Probe | Present | Writable | Accessed | 1UL << 63, m.Memory.ReadUInt64(pt + (Probe >> 12) * 8));
    }

    [Fact]
    public void ReservedPhysicalAddressBitsInAFourLevelEntryRaisePfWithRsvd()
    {
        using var m = new SystemMachine(StartMode.Long64, a => a.mov(rax, __qword_ptr[Probe]));
        LongModeInterruptTests.SmallPages(m);
        m.Memory.WriteUInt64(0x4000 + (Probe >> 12) * 8, Probe | 7 | 1UL << 45); // beyond 40 physical address bits
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(14, m.HaltedVector);
        Assert.Equal([9UL, CodeBase], m.Stack(2, 8));
        Assert.Equal((ulong)Probe, m.State().Sregs.Cr2);
    }

    [Fact]
    public void FourLevelUserAccessThroughASupervisorUpperLevelFaults()
    {
        using var m = new SystemMachine(StartMode.Long64, a => LongModeInterruptTests.ToRing3(a, User));
        m.Assemble(User, 64, a =>
        {
            a.mov(rax, __qword_ptr[Probe]);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector); // mapped for the user at every level: the read works and HLT faults

        using var denied = new SystemMachine(StartMode.Long64, a => LongModeInterruptTests.ToRing3(a, User));
        denied.Assemble(User, 64, a => a.mov(rax, __qword_ptr[0x4000_0000]));
        denied.Memory.WriteUInt64(PageTables + 0x1000 + 8, (PageTables + 0x2000) | 3); // PDPTE 1 (1 GiB up): supervisor only
        Assert.Equal(ProcessorExitKind.Halt, denied.Run());
        Assert.Equal(14, denied.HaltedVector);
        Assert.Equal([5UL, User], denied.Stack(2, 8));
        Assert.Equal(0x4000_0000UL, denied.State().Sregs.Cr2);
    }

    [Fact]
    public void InvlpgOfATwoMebibytePageIn64BitMode()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(rax, __qword_ptr[0x4000_0000 + Probe]);
            a.mov(__qword_ptr[PageTables + 0x3000], 0);                // the PD entry of 0x40000000
            a.invlpg(__[0x4000_0000 + 0x1000]);
            a.mov(rbx, __qword_ptr[0x4000_0000 + Probe]);
        });
        m.Memory.WriteUInt64(PageTables + 0x1000 + 8, (PageTables + 0x3000) | 7); // PDPTE 1 -> PD at 0x4000+...
        m.Memory.WriteUInt64(PageTables + 0x3000, 0x87);                          // 2 MiB page at physical 0
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(14, m.HaltedVector);
        Assert.Equal(0x4000_0000UL + Probe, m.State().Sregs.Cr2);
    }
}
