using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>LAR, LSL, VERR, VERW and ARPL (SDM vol. 2A/2B).</summary>
public class ProtectionQueryTests
{
    private const uint User = 0x20000;
    private const ulong Zf = 0x40;

    [Fact]
    public void LarAndLslReadAccessRightsAndTheScaledLimit()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(ecx, UserCode32);
            a.lar(eax, ecx);
            a.lsl(ebx, ecx);
            a.mov(ecx, Data16);
            a.lar(dx, cx);
            a.lsl(esi, ecx);
            a.mov(ecx, TssSelector);
            a.lsl(edi, ecx);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x00CF_FA00UL, s.Regs.Rax); // G, D, P, DPL 3, S, type A (the accessed bit is not set by LAR)
        Assert.Equal(0xFFFF_FFFFUL, s.Regs.Rbx);
        Assert.Equal(0x9200UL, s.Regs.Rdx & 0xFFFF);
        Assert.Equal(0xFFFFUL, s.Regs.Rsi);
        Assert.Equal(0x67UL, s.Regs.Rdi);
        Assert.Equal(Zf, s.Regs.Rflags & Zf);
    }

    [Fact]
    public void LarClearsZfForNullBeyondTheLimitGatesAndMorePrivilegedDescriptors()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(FreeSlot, Descriptors.Gate(Code32, 0x9000, 0xE, dpl: 3)); // an interrupt gate: never for LAR
        m.Assemble(User, 32, a =>
        {
            a.mov(eax, 0x5555);
            a.mov(ecx, 0);
            a.lar(eax, ecx);       // null
            a.pushfd();
            a.mov(ecx, 0x1000);
            a.lar(eax, ecx);       // beyond the GDT limit
            a.pushfd();
            a.mov(ecx, FreeSlot | 3);
            a.lar(eax, ecx);       // interrupt gate
            a.pushfd();
            a.mov(ecx, Data32 | 3);
            a.lar(eax, ecx);       // DPL 0 < CPL 3
            a.pushfd();
            a.mov(ecx, UserData32);
            a.verr(cx);
            a.pushfd();
            a.verw(cx);
            a.pushfd();
            a.mov(ecx, UserCode32);
            a.verw(cx);            // code is never writable
            a.pushfd();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector); // the HLT at ring 3
        var s = m.State();
        ulong userEsp = m.Memory.ReadUInt32(m.StackLinear + 16);
        ulong[] flags = Enumerable.Range(0, 7).Select(i => (ulong)m.Memory.ReadUInt32(userEsp + (ulong)(6 - i) * 4) & Zf).ToArray();
        Assert.Equal([0, 0, 0, 0, Zf, Zf, 0], flags);
        Assert.Equal(0x5555UL, s.Regs.Rax); // untouched where ZF is clear
    }

    [Fact]
    public void VerrAcceptsReadableCodeAndConformingCodeOfAnyDpl()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
        m.SetGdt(FreeSlot, Descriptors.Segment(0, 0xFFFF_FFFF, 0xE, dpl: 0)); // conforming, readable code at DPL 0
        m.SetGdt(FreeSlot + 8, Descriptors.Segment(0, 0xFFFF_FFFF, 0x8, dpl: 3)); // execute-only code
        m.Assemble(User, 32, a =>
        {
            a.mov(ecx, FreeSlot);
            a.verr(cx);
            a.pushfd();
            a.mov(ecx, FreeSlot + 8 + 3);
            a.verr(cx);
            a.pushfd();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        ulong userEsp = m.Memory.ReadUInt32(m.StackLinear + 16);
        Assert.Equal(Zf, m.Memory.ReadUInt32(userEsp + 4) & Zf);
        Assert.Equal(0UL, m.Memory.ReadUInt32(userEsp) & Zf);
    }

    [Fact]
    public void ArplRaisesTheRplOfTheDestination()
    {
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            a.mov(eax, 0xAAAA_0010);
            a.mov(ecx, 3);
            a.arpl(ax, cx);
            a.pushfd();
            a.mov(__word_ptr[0x9000], 0x23);
            a.arpl(__word_ptr[0x9000], cx);
            a.pushfd();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0xAAAA_0013UL, s.Regs.Rax);
        Assert.Equal(0x23, m.Memory.ReadUInt16(0x9000));
        Assert.Equal(Zf, m.Memory.ReadUInt32(StackTop - 4) & Zf);
        Assert.Equal(0UL, m.Memory.ReadUInt32(StackTop - 8) & Zf);
    }

    [Fact]
    public void ProtectionQueriesRaiseUdInRealMode()
    {
        using var m = new SystemMachine(StartMode.Real, a => a.lar(ax, cx));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(6, m.HaltedVector);
    }

    [Fact]
    public void LarIn64BitModeAcceptsThe64BitTssAndCallGateOnly()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            a.mov(ecx, TssSelector);
            a.lar(rax, rcx);
            a.mov(ecx, FreeSlot);
            a.lsl(rbx, rcx);       // a 64-bit call gate has no limit: ZF clear
            a.pushfq();
            a.hlt();
        });
        m.SetGdt(FreeSlot, Descriptors.Gate64(Code64, 0x9000, 0xC, dpl: 0).Low);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x0000_8B00UL, s.Regs.Rax);
        Assert.Equal(0UL, m.Memory.ReadUInt64(StackTop - 8) & Zf);
    }
}
