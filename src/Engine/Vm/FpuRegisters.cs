using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// Legacy x87/SSE state in FXSAVE terms (used where XSAVE is not available).
/// Laid out as KVM's struct kvm_fpu, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FpuRegisters
{
    public fixed byte Fpr[128];
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    public byte Pad1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    public fixed byte Xmm[256];
    public uint Mxcsr;
    public uint Pad2;
}
