using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Vm;

/// <summary>
/// The complete architectural state of a stopped vCPU as KVM exposes it. Handed out only by
/// <see cref="Vcpu.WithState"/>; whatever the caller changes is written back before the vCPU
/// runs again. Fields, not properties, so that <c>state.Regs.Rax = 1</c> works.
/// </summary>
public sealed class VcpuState
{
    public GeneralRegisters Regs;
    public SystemRegisters Sregs;
    /// <summary>x87/SSE state; written back only where XSAVE is not available.</summary>
    public FpuRegisters Fpu;
    /// <summary>The XSAVE area, present when the host has KVM_CAP_XSAVE (it then holds the FPU state too).</summary>
    public XsaveState Xsave;
    public ExtendedControlRegisters Xcrs;
    public VcpuEventState Events;
    public DebugRegisters DebugRegs;
    /// <summary>KVM_MP_STATE_*: 0 runnable, 1 waiting for INIT/SIPI, 3 halted.</summary>
    public uint MpState;
    /// <summary>The MSRs the VMM tracks (<see cref="TrackedMsrs"/>) that this host's KVM supports.</summary>
    public Dictionary<uint, ulong> Msrs = new();

    public PagingContext Paging => new(Sregs.Cr0, Sregs.Cr3, Sregs.Cr4, Sregs.Efer);

    /// <summary>Current privilege level: the DPL of SS (CS.DPL can differ for conforming code).</summary>
    public int Cpl => (Sregs.Cr0 & 1) == 0 ? 0 : Sregs.Ss.Dpl;

    /// <summary>The linear address of the next instruction: RIP in 64-bit mode, else CS base + EIP (32-bit).</summary>
    public ulong LinearRip => LinearRipOf(Regs, Sregs);

    /// <summary>True in 64-bit mode (IA-32e with CS.L=1).</summary>
    public bool Is64BitMode => Is64Bit(Sregs);

    /// <summary><see cref="LinearRip"/> from just the registers (two ioctls, not a whole state capture).</summary>
    public static ulong LinearRipOf(in GeneralRegisters regs, in SystemRegisters sregs) =>
        Is64Bit(sregs) ? regs.Rip : (sregs.Cs.Base + regs.Rip) & 0xFFFF_FFFF;

    private static bool Is64Bit(in SystemRegisters sregs) => (sregs.Efer & (1UL << 10)) != 0 && sregs.Cs.L != 0;

    /// <summary>The MSRs saved with the vCPU (system-call, sysenter and page-attribute state).</summary>
    public static readonly uint[] TrackedMsrs =
    [
        0x174, 0x175, 0x176,             // IA32_SYSENTER_CS/ESP/EIP
        0x277,                           // IA32_PAT
        0x1A0,                           // IA32_MISC_ENABLE
        0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, // STAR, LSTAR, CSTAR, SFMASK
        0xC0000102,                      // KERNEL_GS_BASE
    ];
}
