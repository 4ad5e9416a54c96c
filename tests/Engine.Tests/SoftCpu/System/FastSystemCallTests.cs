using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;
using static VmReplay.Engine.Tests.SoftCpu.SystemBehaviour.SystemMachine;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>SYSCALL/SYSRET, SYSENTER/SYSEXIT and SWAPGS (SDM vol. 2B).</summary>
public class FastSystemCallTests
{
    private const uint Star = 0xC000_0081, Lstar = 0xC000_0082, Cstar = 0xC000_0083, Fmask = 0xC000_0084, KernelGsBase = 0xC000_0102;
    private const uint SysenterCs = 0x174, SysenterEsp = 0x175, SysenterEip = 0x176;

    private static void Wrmsr(Assembler a, uint msr, ulong value)
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    [Fact]
    public void SyscallEntersLstarAtRing0AndSysretqReturnsToRing3()
    {
        Label user = default, kernel = default, back = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            user = a.CreateLabel(); kernel = a.CreateLabel(); back = a.CreateLabel();
            // STAR: SYSCALL CS 0x28 (SS 0x30); SYSRET base 0x1B: CS32 0x1B, SS 0x23, CS64 0x2B.
            Wrmsr(a, Star, 0x001B_0028UL << 32);
            a.lea(rax, __[kernel]);
            a.mov(rdx, rax);
            a.shr(rdx, 32);
            a.mov(ecx, Lstar);
            a.wrmsr();
            Wrmsr(a, Fmask, 0x4700); // TF, DF, IF, IOPL... as Linux: clears IF, DF, TF, NT
            // To ring 3 by IRETQ: SS 0x23, RSP, RFLAGS (IF, DF), CS 0x33, RIP user.
            a.push(0x23);
            a.push((int)UserStackTop);
            a.push(0x602);
            a.push(0x33);
            a.lea(rax, __[user]);
            a.push(rax);
            a.iretq();

            a.Label(ref user);
            a.mov(rbx, 0x1234);
            a.syscall();
            a.Label(ref back);
            a.mov(rsi, rsp);
            a.hlt(); // ring 3: #GP(0) (vector 13)

            a.Label(ref kernel);
            a.mov(r12, rcx);
            a.mov(r13, r11);
            a.pushfq();
            a.pop(r14);
            a.mov(r15, rsp);
            a.sysretq();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        // In the kernel: RCX = return address, R11 = user RFLAGS, RFLAGS masked, RSP unchanged.
        Assert.Equal(m.Address(back), s.Regs.R12);
        Assert.Equal(0x602UL, s.Regs.R13);
        Assert.Equal(0x2UL, s.Regs.R14);
        Assert.Equal(UserStackTop, s.Regs.R15);
        // After SYSRETQ: ring 3, 64-bit, CS 0x2B, SS 0x23, RFLAGS from R11, RSP still the user's.
        Assert.Equal(UserStackTop, s.Regs.Rsi);
        ulong[] frame = m.Stack(6, 8);
        Assert.Equal(0UL, frame[0]); // error code
        Assert.Equal(m.Address(back) + 3, frame[1]); // the hlt after mov rsi, rsp
        Assert.Equal(0x2BUL, frame[2]);
        Assert.Equal(0x602UL, frame[3]);
        Assert.Equal(UserStackTop, frame[4]);
        Assert.Equal(0x23UL, frame[5]);
    }

    [Fact]
    public void SyscallSavesFlagsWithoutRfAndLoadsFlatSegments()
    {
        Label kernel = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            kernel = a.CreateLabel();
            Wrmsr(a, Star, 0x0010_0028UL << 32);
            a.lea(rax, __[kernel]);
            a.mov(rdx, rax);
            a.shr(rdx, 32);
            a.mov(ecx, Lstar);
            a.wrmsr();
            Wrmsr(a, Fmask, 0x200);
            Wrmsr(a, Cstar, 0xDEAD);
            a.push(0x10203);
            a.popfq(); // RF cannot be set by POPF; CF, IF, bit 16 ignored
            a.sti();
            a.syscall();
            a.Label(ref kernel);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x28, s.Sregs.Cs.Selector);
        Assert.Equal(1, s.Sregs.Cs.L);
        Assert.Equal(0, s.Sregs.Cs.Dpl);
        Assert.Equal(0x30, s.Sregs.Ss.Selector);
        Assert.Equal(1, s.Sregs.Ss.Db);
        Assert.Equal(0x203UL, s.Regs.R11);
        Assert.Equal(0x3UL, s.Regs.Rflags); // IF masked by SFMASK
    }

    [Fact]
    public void SyscallOutsideLongModeOrWithSceClearRaisesUd()
    {
        using var m32 = new SystemMachine(StartMode.Protected32, a => a.syscall());
        Assert.Equal(ProcessorExitKind.Halt, m32.Run());
        Assert.Equal(6, m32.HaltedVector);

        Label syscall = default;
        using var m64 = new SystemMachine(StartMode.Long64, a =>
        {
            syscall = a.CreateLabel();
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.and(eax, ~1);
            a.wrmsr();
            a.Label(ref syscall);
            a.syscall();
        });
        Assert.Equal(ProcessorExitKind.Halt, m64.Run());
        Assert.Equal(6, m64.HaltedVector);
        Assert.Equal(m64.Address(syscall), m64.Stack(1, 8)[0]);
    }

    [Fact]
    public void SysretWithNonCanonicalRcxRaisesGpAtRing0BeforeChangingAnything()
    {
        Label sysret = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            sysret = a.CreateLabel();
            Wrmsr(a, Star, 0x001B_0028UL << 32);
            a.mov(rcx, 0x0000_8000_0000_0000);
            a.mov(r11, 0x202);
            a.Label(ref sysret);
            a.sysretq();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        var s = m.State();
        ulong[] frame = m.Stack(6, 8);
        Assert.Equal(0UL, frame[0]);
        Assert.Equal(m.Address(sysret), frame[1]);
        Assert.Equal((ulong)Code64, frame[2]); // taken at ring 0
        Assert.Equal(0x2UL, frame[3]);
        Assert.Equal(StackTop, frame[4]);
        Assert.Equal(0, s.Cpl);
        Assert.Equal(0x0000_8000_0000_0000UL, s.Regs.Rcx);
    }

    [Fact]
    public void SysretdReturnsToCompatibilityModeAtEcx()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            Wrmsr(a, Star, 0x001B_0028UL << 32);
            a.mov(rcx, 0xFFFF_FFFF_0002_0000); // ECX is taken, zero-extended
            a.mov(r11, 0x3202);
            a.sysret();
        });
        m.Assemble(0x20000, 32, a => a.hlt()); // compatibility-mode ring 3: #GP
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        ulong[] frame = m.Stack(6, 8);
        Assert.Equal(0x20000UL, frame[1]);
        Assert.Equal(0x1BUL, frame[2]); // STAR[63:48] | 3, 32-bit code
        Assert.Equal(0x3202UL, frame[3]);
        Assert.Equal(0x23UL, frame[5]);
    }

    [Fact]
    public void SysenterAndSysexitIn32BitProtectedMode()
    {
        const uint user = 0x20000, kernel = 0x30000;
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            Wrmsr(a, SysenterCs, Code32);
            Wrmsr(a, SysenterEsp, 0x7F000);
            Wrmsr(a, SysenterEip, kernel);
            // SYSEXIT to ring 3: CS = SYSENTER_CS + 16 | 3 (0x1B), SS = + 24 | 3 (0x23), ESP = ECX, EIP = EDX.
            a.mov(ecx, (uint)UserStackTop);
            a.mov(edx, user);
            a.sti(); // SYSEXIT keeps RFLAGS: ring 3 runs with IF set
            a.sysexit();
        });
        m.Assemble(user, 32, a =>
        {
            a.mov(ebx, 77);
            a.mov(edi, esp);
            a.sysenter();
        });
        m.Assemble(kernel, 32, a =>
        {
            a.pushfd();
            a.pop(esi);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(-1, m.HaltedVector);
        var s = m.State();
        Assert.Equal(77UL, s.Regs.Rbx);
        Assert.Equal(UserStackTop, s.Regs.Rdi);
        Assert.Equal(Code32, s.Sregs.Cs.Selector);
        Assert.Equal(Data32, s.Sregs.Ss.Selector);
        Assert.Equal(0x7F000UL, s.Regs.Rsp);
        Assert.Equal(0x2UL, s.Regs.Rsi); // IF cleared by SYSENTER
        Assert.Equal(0, s.Cpl);
    }

    [Fact]
    public void SysenterWithoutSysenterCsRaisesGp()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.sysenter());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal(0u, (uint)m.Stack(1, 4)[0]);
        Assert.Equal((uint)CodeBase, (uint)m.Stack(2, 4)[1]);
    }

    [Fact]
    public void SysexitAtRing3RaisesGp()
    {
        const uint user = 0x20000;
        using var m = new SystemMachine(StartMode.Protected32, a =>
        {
            Wrmsr(a, SysenterCs, Code32);
            a.mov(ecx, (uint)UserStackTop);
            a.mov(edx, user);
            a.sysexit();
        });
        m.Assemble(user, 32, a => a.sysexit());
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        // Taken on the ring-0 stack from the TSS: error code, EIP, CS, EFLAGS, ESP, SS.
        Assert.Equal([0, user, UserCode32, 2, (uint)UserStackTop, UserData32], m.Stack(6, 4).Select(v => (uint)v));
    }

    [Fact]
    public void SysenterAndSysexitqIn64BitMode()
    {
        Label kernel = default, user = default;
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            kernel = a.CreateLabel(); user = a.CreateLabel();
            Wrmsr(a, SysenterCs, 0x18); // kernel CS 0x18, SS 0x20; SYSEXITQ: CS 0x38|3, SS 0x40|3
            Wrmsr(a, SysenterEsp, 0x7F000);
            a.lea(rax, __[kernel]);
            a.mov(rdx, rax);
            a.shr(rdx, 32);
            a.mov(ecx, SysenterEip);
            a.wrmsr();
            a.mov(rcx, UserStackTop);
            a.lea(rdx, __[user]);
            a.sysexitq();
            a.Label(ref user);
            a.mov(r8, rsp);
            a.sysenter();
            a.Label(ref kernel);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(UserStackTop, s.Regs.R8);
        Assert.Equal(0x18, s.Sregs.Cs.Selector);
        Assert.Equal(1, s.Sregs.Cs.L);
        Assert.Equal(0x20, s.Sregs.Ss.Selector);
        Assert.Equal(0x7F000UL, s.Regs.Rsp);
        Assert.True(s.Is64BitMode);
    }

    [Fact]
    public void SysexitqWithNonCanonicalTargetRaisesGp()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            Wrmsr(a, SysenterCs, 0x18);
            a.mov(rcx, UserStackTop);
            a.mov(rdx, 0x0001_0000_0000_0000);
            a.sysexitq();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(13, m.HaltedVector);
        Assert.Equal((ulong)Code64, m.Stack(3, 8)[2]);
    }

    [Fact]
    public void SwapgsExchangesGsBaseWithKernelGsBase()
    {
        using var m = new SystemMachine(StartMode.Long64, a =>
        {
            Wrmsr(a, 0xC000_0101, 0x1111_0000);
            Wrmsr(a, KernelGsBase, 0x2222_0000);
            a.swapgs();
            a.mov(ecx, KernelGsBase);
            a.rdmsr();
            a.mov(r8d, eax);
            a.mov(ecx, 0xC000_0101);
            a.rdmsr();
            a.mov(r9d, eax);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0x1111_0000UL, s.Regs.R8);
        Assert.Equal(0x2222_0000UL, s.Regs.R9);
        Assert.Equal(0x2222_0000UL, s.Sregs.Gs.Base);
    }

    [Fact]
    public void SwapgsAtRing3RaisesGpAndOutside64BitModeUd()
    {
        using var m = new SystemMachine(StartMode.Protected32, a => a.db(0x0F, 0x01, 0xF8)); // swapgs
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(6, m.HaltedVector);

        Label user = default;
        using var m64 = new SystemMachine(StartMode.Long64, a =>
        {
            user = a.CreateLabel();
            a.push(0x23);
            a.push((int)UserStackTop);
            a.push(0x2);
            a.push(0x33);
            a.lea(rax, __[user]);
            a.push(rax);
            a.iretq();
            a.Label(ref user);
            a.swapgs();
        });
        Assert.Equal(ProcessorExitKind.Halt, m64.Run());
        Assert.Equal(13, m64.HaltedVector);
        Assert.Equal(m64.Address(user), m64.Stack(2, 8)[1]);
    }
}
