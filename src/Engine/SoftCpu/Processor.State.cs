using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Cpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

public sealed unsafe partial class Processor
{
    // Register numbers as the instruction encoding has them (and Iced's register order):
    // RAX RCX RDX RBX RSP RBP RSI RDI R8-R15.
    internal const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7;
    // Segment registers in Iced's order.
    internal const int Es = 0, Cs = 1, Ss = 2, Ds = 3, Fs = 4, Gs = 5;

    internal readonly ulong[] Gpr = new ulong[16];
    internal ulong Rip;
    internal readonly SegmentRegister[] Seg = new SegmentRegister[6];
    /// <summary>The base each segment contributes to a linear address: 0 for ES, CS, SS and DS in 64-bit mode.</summary>
    internal readonly ulong[] SegBase = new ulong[6];
    internal SegmentRegister Tr, Ldtr;
    internal DescriptorTableRegister Gdtr, Idtr;
    internal ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    internal readonly ulong[] Dr = new ulong[8];
    /// <summary>
    /// x87, MMX and SSE state as the engine saves it (struct kvm_fpu, FXSAVE-like). The x87 and
    /// SSE units keep their working registers in their own form and move them in and out of
    /// this layout through the Save/Load hooks below.
    /// </summary>
    internal FpuRegisters Fpu;
    /// <summary>The MSRs a snapshot keeps (<see cref="VcpuState.TrackedMsrs"/>), by index.</summary>
    internal readonly Dictionary<uint, ulong> Msrs = new();

    /// <summary>Current privilege level.</summary>
    internal int Cpl;
    /// <summary>Code size the decoder uses: 16, 32 or 64.</summary>
    internal int Bitness;
    /// <summary>True in 64-bit mode (IA-32e with CS.L).</summary>
    internal bool Long64;
    /// <summary>Linear addresses wrap at 4 GiB outside 64-bit mode.</summary>
    internal ulong LinearMask;
    /// <summary>
    /// The interrupt shadow of STI, MOV SS and POP SS: maskable interrupts (and a VMM's
    /// injection) wait one more instruction. Cleared when the next instruction retires.
    /// </summary>
    internal bool InterruptShadow;

    internal const ulong Cr0Pe = 1, Cr0Mp = 2, Cr0Em = 4, Cr0Ts = 8, Cr0Et = 0x10, Cr0Ne = 0x20, Cr0Wp = 1UL << 16, Cr0Am = 1UL << 18, Cr0Nw = 1UL << 29, Cr0Cd = 1UL << 30, Cr0Pg = 1UL << 31;
    internal const ulong Cr4Vme = 1, Cr4Pvi = 2, Cr4Tsd = 4, Cr4De = 8, Cr4Pse = 0x10, Cr4Pae = 0x20, Cr4Mce = 0x40, Cr4Pge = 0x80, Cr4Pce = 0x100, Cr4Osfxsr = 0x200, Cr4Osxmmexcpt = 0x400;
    internal const ulong EferSce = 1, EferLme = 1UL << 8, EferLma = 1UL << 10, EferNxe = 1UL << 11;

    /// <summary>Register <paramref name="index"/> (encoding order), by reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref ulong R(int index) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Gpr), index);

    /// <summary>The architectural state after RESET (SDM vol. 3A, 9.1.1): real mode, CS:IP = F000:FFF0.</summary>
    public void Reset()
    {
        Array.Clear(Gpr);
        Gpr[Rdx] = Cpuid.Signature;
        for (int i = 0; i < 6; i++) Seg[i] = RealModeSegment(0, dataOrCode: 3);
        Seg[Cs] = RealModeSegment(0xF000, dataOrCode: 0xB);
        Seg[Cs].Base = 0xFFFF_0000;
        Rip = 0xFFF0;
        Gdtr = new DescriptorTableRegister { Limit = 0xFFFF };
        Idtr = new DescriptorTableRegister { Limit = 0xFFFF };
        Ldtr = new SegmentRegister { Limit = 0xFFFF, Type = 2, Present = 1 };
        Tr = new SegmentRegister { Limit = 0xFFFF, Type = 0xB, Present = 1 };
        Cr0 = Cr0Et | Cr0Nw | Cr0Cd;
        Cr2 = Cr3 = Cr4 = Cr8 = Efer = 0;
        ApicBase = 0;
        Array.Clear(Dr);
        Dr[6] = 0xFFFF_0FF0;
        Dr[7] = 0x400;
        Fpu = default;
        Fpu.Fcw = 0x40;
        Fpu.Mxcsr = 0x1F80;
        LoadX87(in Fpu);
        LoadSse(in Fpu);
        Msrs.Clear();
        foreach (uint msr in VcpuState.TrackedMsrs) Msrs[msr] = 0;
        foreach (var (index, value) in ProcessorMsrs.ResetValues)
            if (Msrs.ContainsKey(index)) Msrs[index] = value;
        SetRflagsRaw(2);
        InterruptShadow = false;
        ModeChanged();
        FlushTlb();
    }

    internal static SegmentRegister RealModeSegment(ushort selector, byte dataOrCode) => new()
    {
        Selector = selector, Base = (ulong)selector << 4, Limit = 0xFFFF, Type = dataOrCode, Present = 1, S = 1,
    };

    /// <summary>
    /// Recomputes everything derived from CR0, EFER, CS and SS: privilege level, code size,
    /// address wrapping and the segment bases that count, and drops translations and decoded
    /// blocks that assumed the old mode.
    /// </summary>
    internal void ModeChanged()
    {
        bool protectedMode = (Cr0 & Cr0Pe) != 0;
        Long64 = (Efer & EferLma) != 0 && Seg[Cs].L != 0 && protectedMode;
        Bitness = Long64 ? 64 : Seg[Cs].Db != 0 && protectedMode ? 32 : 16;
        Cpl = !protectedMode ? 0 : (_flags & FlagVm) != 0 ? 3 : Seg[Ss].Dpl;
        // TLB entries carry the privilege they were filled for: a new CPL needs no flush.
        _tlbKey = Cpl == 3 ? 1UL : 0UL;
        LinearMask = Long64 ? ulong.MaxValue : 0xFFFF_FFFF;
        RefreshSegmentBases();
    }

    /// <summary>Recomputes <see cref="SegBase"/> after a segment register or the mode changed.</summary>
    internal void RefreshSegmentBases()
    {
        for (int i = 0; i < 6; i++) SegBase[i] = Long64 && i < Fs ? 0 : Seg[i].Base;
        StackMask = Long64 ? ulong.MaxValue : Seg[Ss].Db != 0 ? 0xFFFF_FFFF : 0xFFFF;
    }

    /// <summary>The stack pointer's width: RSP, ESP (SS.B) or SP.</summary>
    internal ulong StackMask;

    /// <summary>Writes this processor's complete state into <paramref name="s"/>.</summary>
    public void SaveState(VcpuState s)
    {
        s.Regs = new GeneralRegisters
        {
            Rax = Gpr[Rax], Rbx = Gpr[Rbx], Rcx = Gpr[Rcx], Rdx = Gpr[Rdx], Rsi = Gpr[Rsi], Rdi = Gpr[Rdi], Rsp = Gpr[Rsp], Rbp = Gpr[Rbp],
            R8 = Gpr[8], R9 = Gpr[9], R10 = Gpr[10], R11 = Gpr[11], R12 = Gpr[12], R13 = Gpr[13], R14 = Gpr[14], R15 = Gpr[15],
            Rip = Rip, Rflags = GetRflags(),
        };
        var sr = new SystemRegisters
        {
            Es = Seg[Es], Cs = Seg[Cs], Ss = Seg[Ss], Ds = Seg[Ds], Fs = Seg[Fs], Gs = Seg[Gs], Tr = Tr, Ldt = Ldtr,
            Gdt = Gdtr, Idt = Idtr, Cr0 = Cr0, Cr2 = Cr2, Cr3 = Cr3, Cr4 = Cr4, Cr8 = Cr8, Efer = Efer, ApicBase = ApicBase,
        };
        s.Sregs = sr;
        var fpu = Fpu;
        SaveX87(ref fpu);
        SaveSse(ref fpu);
        s.Fpu = fpu;
        s.Xsave = default;
        s.Xcrs = default;
        s.Events = default;
        s.Events.InterruptShadow = (byte)(InterruptShadow ? 1 : 0);
        s.Events.Flags = VcpuEventState.ValidShadow;
        s.DebugRegs = default;
        for (int i = 0; i < 4; i++) s.DebugRegs.Db[i] = Dr[i];
        s.DebugRegs.Dr6 = Dr[6];
        s.DebugRegs.Dr7 = Dr[7];
        s.MpState = 0;
        s.Msrs = new Dictionary<uint, ulong>(Msrs);
    }

    /// <summary>Takes the complete state from <paramref name="s"/> (a boot loader's setup, a restored snapshot, a VMM's change).</summary>
    public void LoadState(VcpuState s)
    {
        var r = s.Regs;
        Gpr[Rax] = r.Rax; Gpr[Rbx] = r.Rbx; Gpr[Rcx] = r.Rcx; Gpr[Rdx] = r.Rdx;
        Gpr[Rsi] = r.Rsi; Gpr[Rdi] = r.Rdi; Gpr[Rsp] = r.Rsp; Gpr[Rbp] = r.Rbp;
        Gpr[8] = r.R8; Gpr[9] = r.R9; Gpr[10] = r.R10; Gpr[11] = r.R11; Gpr[12] = r.R12; Gpr[13] = r.R13; Gpr[14] = r.R14; Gpr[15] = r.R15;
        Rip = r.Rip;
        SetRflagsRaw(r.Rflags | 2);
        var sr = s.Sregs;
        Seg[Es] = sr.Es; Seg[Cs] = sr.Cs; Seg[Ss] = sr.Ss; Seg[Ds] = sr.Ds; Seg[Fs] = sr.Fs; Seg[Gs] = sr.Gs;
        Tr = sr.Tr; Ldtr = sr.Ldt; Gdtr = sr.Gdt; Idtr = sr.Idt;
        Cr0 = sr.Cr0; Cr2 = sr.Cr2; Cr3 = sr.Cr3; Cr4 = sr.Cr4; Cr8 = sr.Cr8; Efer = sr.Efer; ApicBase = sr.ApicBase;
        Fpu = s.Fpu;
        LoadX87(in Fpu);
        LoadSse(in Fpu);
        InterruptShadow = s.Events.InterruptShadow != 0;
        for (int i = 0; i < 4; i++) Dr[i] = s.DebugRegs.Db[i];
        Dr[6] = s.DebugRegs.Dr6;
        Dr[7] = s.DebugRegs.Dr7;
        foreach (var (index, value) in s.Msrs)
            if (Msrs.ContainsKey(index)) Msrs[index] = value;
        ModeChanged();
        FlushTlb();
        _previousBlock = null;
        ForgetPendingWork();
    }

    /// <summary>General registers, RIP and RFLAGS as the engine's state has them.</summary>
    public GeneralRegisters ReadRegisters()
    {
        SaveRegistersTo(_deliveryState);
        return _deliveryState.Regs;
    }

    /// <summary>Segment, descriptor-table and control registers as the engine's state has them.</summary>
    public SystemRegisters ReadSystemRegisters()
    {
        SaveRegistersTo(_deliveryState);
        return _deliveryState.Sregs;
    }

    /// <summary>The x87 unit writes its registers (FPR0-7 as 80-bit values, FCW, FSW, abridged tag, last opcode/IP/DP) into <paramref name="fpu"/>.</summary>
    partial void SaveX87(ref FpuRegisters fpu);

    /// <summary>The x87 unit takes its registers from <paramref name="fpu"/>.</summary>
    partial void LoadX87(in FpuRegisters fpu);

    /// <summary>The SSE unit writes XMM0-15 and MXCSR into <paramref name="fpu"/>.</summary>
    partial void SaveSse(ref FpuRegisters fpu);

    /// <summary>The SSE unit takes XMM0-15 and MXCSR from <paramref name="fpu"/>.</summary>
    partial void LoadSse(in FpuRegisters fpu);
}
