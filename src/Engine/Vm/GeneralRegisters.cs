using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// General registers, RIP and RFLAGS.
/// Laid out as KVM's struct kvm_regs, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct GeneralRegisters
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}
