using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Emulation;

public sealed class InstructionEmulatorTests : IDisposable
{
    private const ulong Gdt = 0x1000, Code = 0x10000, Stack = 0x8000;
    private const ushort Code0 = 0x08, Data0 = 0x10, Code3 = 0x1B, Data3 = 0x23, Code64 = 0x28, NotPresent = 0x30, Code3Rpl0 = 0x18;
    private readonly GuestMemory _m = GuestMemory.CreatePcLayout(16UL << 20);
    private readonly InstructionEmulator _emu = new();

    public InstructionEmulatorTests()
    {
        ulong[] gdt =
        [
            0,
            0x00CF9A000000FFFF, // 0x08 ring-0 code 32
            0x00CF92000000FFFF, // 0x10 ring-0 data
            0x00CFFA000000FFFF, // 0x18 ring-3 code 32
            0x00CFF2000000FFFF, // 0x20 ring-3 data
            0x00AF9A000000FFFF, // 0x28 ring-0 code 64
            0x00CF1A000000FFFF, // 0x30 code, not present
        ];
        for (int i = 0; i < gdt.Length; i++) _m.WriteUInt64(Gdt + (ulong)i * 8, gdt[i]);
    }

    public void Dispose() => _m.Dispose();

    private static SegmentRegister Seg(ushort sel, byte type, int dpl, bool l = false) => new()
    {
        Selector = sel, Base = 0, Limit = 0xFFFF_FFFF, Type = type, Present = 1, S = 1, Dpl = (byte)dpl,
        Db = (byte)(l ? 0 : 1), L = (byte)(l ? 1 : 0), G = 1,
    };

    private VcpuState Protected32(int cpl, params uint[] stack)
    {
        var s = new VcpuState();
        s.Sregs.Gdt = new DescriptorTableRegister { Base = Gdt, Limit = 7 * 8 - 1 };
        s.Sregs.Cr0 = 0x11;
        s.Sregs.Cs = cpl == 0 ? Seg(Code0, 0xB, 0) : Seg(Code3, 0xB, 3);
        s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = cpl == 0 ? Seg(Data0, 3, 0) : Seg(Data3, 3, 3);
        s.Regs.Rip = Code;
        s.Regs.Rsp = Stack;
        s.Regs.Rflags = 0x2;
        for (int i = 0; i < stack.Length; i++) _m.WriteUInt32(Stack + (ulong)i * 4, stack[i]);
        _m.Write(Code, [0xCF]); // iretd
        return s;
    }

    private EmulationResult Run(VcpuState s) => _emu.Emulate(s, _m);

    private static void AssertFault(EmulationResult r, VcpuState s, byte vector, uint? code)
    {
        Assert.Equal(EmulationStatus.ExceptionRaised, r.Status);
        Assert.Equal(vector, r.Vector);
        Assert.Equal(code, r.ErrorCode);
        Assert.Equal(1, s.Events.ExceptionInjected);
        Assert.Equal(vector, s.Events.ExceptionNr);
        Assert.Equal(Code, s.Regs.Rip); // a fault leaves RIP at the instruction
    }

    [Fact]
    public void RealModeIret()
    {
        var s = new VcpuState();
        s.Sregs.Cs = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
        s.Sregs.Ss = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, Present = 1, S = 1 };
        s.Regs.Rip = 0x7C00;
        s.Regs.Rsp = 0x7000;
        _m.Write(0x7C00, [0xCF]);
        _m.WriteUInt16(0x7000, 0x1234);
        _m.WriteUInt16(0x7002, 0x2000);
        _m.WriteUInt16(0x7004, 0x0202);
        var r = Run(s);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal("iret", r.Instruction);
        Assert.Equal(0x1234UL, s.Regs.Rip);
        Assert.Equal(0x2000, s.Sregs.Cs.Selector);
        Assert.Equal(0x20000UL, s.Sregs.Cs.Base);
        Assert.Equal(0x202UL, s.Regs.Rflags);
        Assert.Equal(0x7006UL, s.Regs.Rsp);
    }

    [Fact]
    public void SamePrivilegeIretdRestoresFlagsAndUnmasksNmi()
    {
        var s = Protected32(0, 0x100200, Code0, 0x246);
        s.Events.NmiMasked = 1;
        var r = Run(s);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal("iretd", r.Instruction);
        Assert.Equal(0x100200UL, s.Regs.Rip);
        Assert.Equal(0x246UL, s.Regs.Rflags);
        Assert.Equal(Stack + 12, s.Regs.Rsp);
        Assert.Equal(0, s.Events.NmiMasked);
        Assert.Equal(1, _m.ReadByte(Gdt + 8 + 5) & 1); // accessed bit set in the descriptor
    }

    [Fact]
    public void AtCpl3WithIopl0IfAndIoplAreNotChanged()
    {
        var s = Protected32(3, 0x400000, Code3, 0x3202);
        s.Regs.Rflags = 0x2;
        Assert.Equal(EmulationStatus.Emulated, Run(s).Status);
        Assert.Equal(0x2UL, s.Regs.Rflags);
    }

    [Fact]
    public void ReturnToRing3PopsStackAndNullsKernelDataSegments()
    {
        var s = Protected32(0, 0x400000, Code3, 0x3202, 0x9000, Data3);
        var r = Run(s);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal(0x400000UL, s.Regs.Rip);
        Assert.Equal(Code3, s.Sregs.Cs.Selector);
        Assert.Equal(3, s.Sregs.Ss.Dpl);
        Assert.Equal(3, s.Cpl);
        Assert.Equal(0x9000UL, s.Regs.Rsp);
        Assert.Equal(0x3202UL, s.Regs.Rflags); // IOPL and IF loaded at CPL 0
        Assert.Equal(1, s.Sregs.Ds.Unusable);
        Assert.Equal(0, s.Sregs.Ds.Selector);
    }

    [Fact]
    public void NullCsRaisesGp0()
    {
        var s = Protected32(0, 0x1000, 0, 2);
        AssertFault(Run(s), s, 13, 0);
    }

    [Fact]
    public void ReturnToMorePrivilegedCodeRaisesGp()
    {
        var s = Protected32(3, 0x1000, Code0, 2);
        AssertFault(Run(s), s, 13, Code0);
    }

    [Fact]
    public void DataSegmentAsCsRaisesGp()
    {
        var s = Protected32(0, 0x1000, Data0, 2);
        AssertFault(Run(s), s, 13, Data0);
    }

    [Fact]
    public void SelectorBeyondGdtLimitRaisesGp()
    {
        var s = Protected32(0, 0x1000, 0x80, 2);
        AssertFault(Run(s), s, 13, 0x80);
    }

    [Fact]
    public void NonConformingDplMismatchRaisesGp()
    {
        var s = Protected32(0, 0x1000, Code3Rpl0, 2); // RPL 0, DPL 3
        AssertFault(Run(s), s, 13, Code3Rpl0);
    }

    [Fact]
    public void NotPresentCodeSegmentRaisesNp()
    {
        var s = Protected32(0, 0x1000, NotPresent, 2);
        AssertFault(Run(s), s, 11, NotPresent);
    }

    [Fact]
    public void StackSelectorRplMismatchRaisesGp()
    {
        var s = Protected32(0, 0x400000, Code3, 0x202, 0x9000, Data0);
        AssertFault(Run(s), s, 13, Data0);
    }

    [Fact]
    public void EipBeyondCodeLimitRaisesGp0()
    {
        _m.WriteUInt64(Gdt + 6 * 8, 0x00409A000000FFFF); // replace 0x30: byte-granular 64 KiB code, present
        var s = Protected32(0, 0x20000, NotPresent, 2);
        AssertFault(Run(s), s, 13, 0);
    }

    [Fact]
    public void NestedTaskReturnIsReportedNotEmulated()
    {
        var s = Protected32(0, 0x1000, Code0, 2);
        s.Regs.Rflags = 0x4002;
        var r = Run(s);
        Assert.Equal(EmulationStatus.NotEmulated, r.Status);
        Assert.Contains("task return", r.Reason);
        Assert.Equal(Code, s.Regs.Rip);
    }

    [Fact]
    public void StackPageFaultRaisesPfWithCr2()
    {
        // 32-bit paging: identity-map only the first 4 MiB page, except that the stack page is absent.
        var s = Protected32(0, 0x1000, Code0, 2);
        _m.WriteUInt32(0x20000, 0x21000 | 3);
        for (uint i = 0; i < 1024; i++) _m.WriteUInt32(0x21000 + i * 4, i * 0x1000 | 3);
        _m.WriteUInt32(0x21000 + 8 * 4, 0); // page 0x8000 (the stack) not present
        s.Sregs.Cr0 |= 1UL << 31;
        s.Sregs.Cr3 = 0x20000;
        var r = Run(s);
        AssertFault(r, s, 14, 0); // not present, read, supervisor
        Assert.Equal(Stack, s.Sregs.Cr2);
    }

    private VcpuState Long64(params ulong[] stack)
    {
        var s = new VcpuState();
        s.Sregs.Gdt = new DescriptorTableRegister { Base = Gdt, Limit = 7 * 8 - 1 };
        s.Sregs.Cr0 = 0x8000_0011;
        s.Sregs.Cr4 = 0x20;
        s.Sregs.Efer = 0x500;
        s.Sregs.Cr3 = 0x30000;
        // Identity map the first 1 GiB with one 1 GiB page.
        _m.WriteUInt64(0x30000, 0x31000 | 3);
        _m.WriteUInt64(0x31000, 0x83);
        s.Sregs.Cs = Seg(Code64, 0xB, 0, l: true);
        s.Sregs.Ss = s.Sregs.Ds = Seg(Data0, 3, 0);
        s.Regs.Rip = Code;
        s.Regs.Rsp = Stack;
        s.Regs.Rflags = 2;
        for (int i = 0; i < stack.Length; i++) _m.WriteUInt64(Stack + (ulong)i * 8, stack[i]);
        _m.Write(Code, [0x48, 0xCF]); // iretq
        return s;
    }

    [Fact]
    public void IretqSamePrivilegePopsSsAndRsp()
    {
        var s = Long64(0x200000, Code64, 0x202, 0x7F00, Data0);
        var r = Run(s);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal("iretq", r.Instruction);
        Assert.Equal(0x200000UL, s.Regs.Rip);
        Assert.Equal(0x7F00UL, s.Regs.Rsp);
        Assert.Equal(0x202UL, s.Regs.Rflags);
        Assert.True(s.Is64BitMode);
    }

    [Fact]
    public void IretqWithNullSsAtCpl0IsAllowedInLongMode()
    {
        var s = Long64(0x200000, Code64, 0x2, 0x7F00, 0);
        Assert.Equal(EmulationStatus.Emulated, Run(s).Status);
        Assert.Equal(1, s.Sregs.Ss.Unusable);
    }

    [Fact]
    public void IretqToNonCanonicalRipRaisesGp0()
    {
        var s = Long64(0x0000_8000_0000_0000, Code64, 0x2, 0x7F00, Data0);
        AssertFault(Run(s), s, 13, 0);
    }

    [Fact]
    public void IretqToRing3CompatibilityCode()
    {
        var s = Long64(0x400000, Code3, 0x202, 0x9000, Data3);
        Assert.Equal(EmulationStatus.Emulated, Run(s).Status);
        Assert.Equal(3, s.Cpl);
        Assert.False(s.Is64BitMode);
        Assert.Equal(0x9000UL, s.Regs.Rsp);
    }

    [Fact]
    public void Cmpxchg8bEqualStoresEcxEbx()
    {
        var s = Protected32(0, 0);
        _m.Write(Code, [0xF0, 0x0F, 0xC7, 0x0E]); // lock cmpxchg8b [esi]
        s.Regs.Rsi = 0x9000;
        _m.WriteUInt64(0x9000, 0x1111_2222_3333_4444);
        s.Regs.Rdx = 0x1111_2222; s.Regs.Rax = 0x3333_4444;
        s.Regs.Rcx = 0xAAAA_BBBB; s.Regs.Rbx = 0xCCCC_DDDD;
        var r = Run(s);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal("lock cmpxchg8b [esi]", r.Instruction);
        Assert.Equal(0xAAAA_BBBB_CCCC_DDDDUL, _m.ReadUInt64(0x9000));
        Assert.NotEqual(0UL, s.Regs.Rflags & 0x40);
        Assert.Equal(Code + 4, s.Regs.Rip);
    }

    [Fact]
    public void Cmpxchg8bUnequalLoadsEdxEax()
    {
        var s = Protected32(0, 0);
        _m.Write(Code, [0x0F, 0xC7, 0x0E]);
        s.Regs.Rsi = 0x9000;
        _m.WriteUInt64(0x9000, 0x5555_6666_7777_8888);
        s.Regs.Rflags = 0x42;
        Assert.Equal(EmulationStatus.Emulated, Run(s).Status);
        Assert.Equal(0x5555_6666UL, s.Regs.Rdx);
        Assert.Equal(0x7777_8888UL, s.Regs.Rax);
        Assert.Equal(0UL, s.Regs.Rflags & 0x40);
        Assert.Equal(0x5555_6666_7777_8888UL, _m.ReadUInt64(0x9000));
    }

    [Fact]
    public void Cmpxchg16bEqualUnequalAndMisaligned()
    {
        var s = Long64();
        _m.Write(Code, [0xF0, 0x48, 0x0F, 0xC7, 0x4D, 0x20]); // lock cmpxchg16b [rbp+20h]
        s.Regs.Rbp = 0x9000;
        _m.WriteUInt64(0x9020, 1); _m.WriteUInt64(0x9028, 2);
        s.Regs.Rax = 1; s.Regs.Rdx = 2; s.Regs.Rbx = 3; s.Regs.Rcx = 4;
        var r = Run(s);
        Assert.Equal("lock cmpxchg16b [rbp+20h]", r.Instruction);
        Assert.Equal(EmulationStatus.Emulated, r.Status);
        Assert.Equal(3UL, _m.ReadUInt64(0x9020));
        Assert.Equal(4UL, _m.ReadUInt64(0x9028));

        s.Regs.Rip = Code;
        Assert.Equal(EmulationStatus.Emulated, Run(s).Status); // now unequal: memory (3, 4) loads into RDX:RAX
        Assert.Equal((3UL, 4UL), (s.Regs.Rax, s.Regs.Rdx));
        Assert.Equal(0UL, s.Regs.Rflags & 0x40);

        s.Regs.Rip = Code;
        s.Regs.Rbp = 0x9008;
        AssertFault(Run(s), s, 13, 0);
    }

    [Fact]
    public void Cmpxchg16bOnReadOnlyPageRaisesPfWithWriteBit()
    {
        var s = Long64();
        _m.Write(Code, [0x48, 0x0F, 0xC7, 0x0E]); // cmpxchg16b [rsi]
        // Map 0x40000000 (second GiB) read-only through a 1 GiB page.
        _m.WriteUInt64(0x31000 + 8, 0x4000_0000 | 0x81);
        s.Sregs.Cr0 |= 1 << 16; // WP
        s.Regs.Rsi = 0x4000_0000;
        var r = Run(s);
        AssertFault(r, s, 14, 3); // present | write
        Assert.Equal(0x4000_0000UL, s.Sregs.Cr2);
    }

    [Fact]
    public void Int3DeliversBreakpointThroughTheIdtWithTheNextInstructionAsReturnAddress()
    {
        // IDT at 0x3000, vector 3 -> 0x08:0x200000 (32-bit interrupt gate, DPL 0).
        _m.WriteUInt64(0x3000 + 3 * 8, 0x0020_8E00_0008_0000);
        var s = Protected32(0, 0);
        s.Sregs.Idt = new DescriptorTableRegister { Base = 0x3000, Limit = 0x7FF };
        s.Regs.Rflags = 0x202;
        _m.Write(Code, [0xCC]);
        var r = Run(s);
        Assert.Equal(EmulationStatus.ExceptionRaised, r.Status);
        Assert.Equal(3, r.Vector);
        Assert.Equal(0x200000UL, s.Regs.Rip);
        Assert.Equal(0, s.Events.ExceptionInjected); // nothing left for KVM: an interrupt may follow safely
        Assert.Equal((uint)Code + 1, _m.ReadUInt32(Stack - 12)); // frame: EIP, CS, EFLAGS
        Assert.Equal(0x202u, _m.ReadUInt32(Stack - 4));
        Assert.Equal(0UL, s.Regs.Rflags & 0x200);
    }

    [Fact]
    public void Int3AtCpl3ThroughAKernelOnlyGateRaisesGp()
    {
        _m.WriteUInt64(0x3000 + 3 * 8, 0x0020_8E00_0008_0000); // DPL 0
        var s = Protected32(3, 0);
        s.Sregs.Idt = new DescriptorTableRegister { Base = 0x3000, Limit = 0x7FF };
        _m.Write(Code, [0xCC]);
        AssertFault(Run(s), s, 13, 3 * 8 + 2);
        Assert.Equal(Code, s.Regs.Rip);
    }

    [Fact]
    public void UnknownInstructionIsNamedAndStateUntouched()
    {
        var s = Protected32(0, 0);
        _m.Write(Code, [0x0F, 0x77]);
        var before = s.Regs;
        var r = Run(s);
        Assert.Equal(EmulationStatus.NotEmulated, r.Status);
        Assert.Equal("emms", r.Instruction);
        Assert.Equal(before, s.Regs);
        Assert.Equal(0, s.Events.ExceptionInjected);
    }

    [Fact]
    public void RealModeInterruptGoesThroughTheIvt()
    {
        var s = new VcpuState();
        s.Sregs.Cs = new SegmentRegister { Selector = 0x1000, Base = 0x10000, Limit = 0xFFFF, Type = 0xB, Present = 1, S = 1 };
        s.Sregs.Ss = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, Present = 1, S = 1 };
        s.Sregs.Idt = new DescriptorTableRegister { Base = 0, Limit = 0x3FF };
        s.Regs.Rip = 0x1234;
        s.Regs.Rsp = 0x7000;
        s.Regs.Rflags = 0x202;
        _m.WriteUInt32(0x08 * 4, 0xF000_E987); // vector 8 -> F000:E987
        Assert.Null(InterruptDelivery.Deliver(s, _m, 0x08));
        Assert.Equal(0xE987UL, s.Regs.Rip);
        Assert.Equal(0xF0000UL, s.Sregs.Cs.Base);
        Assert.Equal(0x6FFAUL, s.Regs.Rsp);
        Assert.Equal(0x1234, _m.ReadUInt16(0x6FFA));
        Assert.Equal(0x1000, _m.ReadUInt16(0x6FFC));
        Assert.Equal(0x202, _m.ReadUInt16(0x6FFE));
        Assert.Equal(0UL, s.Regs.Rflags & 0x200);
    }

    [Fact]
    public void Ring3InterruptSwitchesToTheTssStack()
    {
        // IDT at 0x3000 with vector 0x20 -> 0x08:0x200000 (32-bit interrupt gate); TSS at 0x4000: esp0 0x9F00, ss0 0x10.
        _m.WriteUInt64(0x3000 + 0x20 * 8, 0x0020_8E00_0008_0000);
        _m.WriteUInt32(0x4004, 0x9F00);
        _m.WriteUInt32(0x4008, Data0);
        var s = Protected32(3);
        s.Sregs.Idt = new DescriptorTableRegister { Base = 0x3000, Limit = 0x7FF };
        s.Sregs.Tr = new SegmentRegister { Selector = 0x38, Base = 0x4000, Limit = 0x67, Type = 0xB, Present = 1 };
        s.Regs.Rip = 0x400100;
        s.Regs.Rsp = 0x8800;
        s.Regs.Rflags = 0x3202;
        Assert.True(InterruptDelivery.CanDeliver(s));
        Assert.Null(InterruptDelivery.Deliver(s, _m, 0x20));
        Assert.Equal(0x200000UL, s.Regs.Rip);
        Assert.Equal(0, s.Cpl);
        Assert.Equal(Data0, s.Sregs.Ss.Selector);
        Assert.Equal(0x9F00UL - 20, s.Regs.Rsp);
        // Frame: EIP, CS, EFLAGS, ESP, SS (lowest address first).
        Assert.Equal(0x400100u, _m.ReadUInt32(0x9F00 - 20));
        Assert.Equal((uint)Code3, _m.ReadUInt32(0x9F00 - 16));
        Assert.Equal(0x3202u, _m.ReadUInt32(0x9F00 - 12));
        Assert.Equal(0x8800u, _m.ReadUInt32(0x9F00 - 8));
        Assert.Equal((uint)Data3, _m.ReadUInt32(0x9F00 - 4));
        Assert.Equal(0UL, s.Regs.Rflags & 0x200); // interrupt gate clears IF
    }

    [Fact]
    public void LongModeInterruptUsesTheIstStackAndAlignsIt()
    {
        var s = Long64();
        // IDT at 0x3000: vector 0x20 -> 0x28:0x0000_0001_0020_0000 with IST 2; TSS at 0x4000 with IST2 = 0x9F08.
        ulong target = 0x0000_0001_0020_0000;
        ulong lo = (target & 0xFFFF) | (ulong)Code64 << 16 | 2UL << 32 | 0x8EUL << 40 | ((target >> 16) & 0xFFFF) << 48;
        _m.WriteUInt64(0x3000 + 0x20 * 16, lo);
        _m.WriteUInt64(0x3000 + 0x20 * 16 + 8, target >> 32);
        _m.WriteUInt64(0x4000 + 0x24 + 8, 0x9F08);
        s.Sregs.Idt = new DescriptorTableRegister { Base = 0x3000, Limit = 0xFFF };
        s.Sregs.Tr = new SegmentRegister { Selector = 0x38, Base = 0x4000, Limit = 0x67, Type = 0xB, Present = 1 };
        s.Regs.Rip = 0x123456;
        s.Regs.Rflags = 0x202;
        Assert.Null(InterruptDelivery.Deliver(s, _m, 0x20));
        Assert.Equal(target, s.Regs.Rip);
        Assert.Equal(0x9F00UL - 40, s.Regs.Rsp); // aligned down to 16, then five quadwords
        Assert.Equal(0x123456UL, _m.ReadUInt64(0x9F00 - 40));
        Assert.Equal(Stack, _m.ReadUInt64(0x9F00 - 16)); // the interrupted RSP
    }

    [Fact]
    public void NoDeliveryWithInterruptsOffOrInAShadow()
    {
        var s = Protected32(0);
        s.Regs.Rflags = 0x2;
        Assert.False(InterruptDelivery.CanDeliver(s));
        s.Regs.Rflags = 0x202;
        s.Events.InterruptShadow = 1;
        Assert.False(InterruptDelivery.CanDeliver(s));
    }
}
