using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_fpu: legacy x87/SSE state (used where XSAVE is not available).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmFpu
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
