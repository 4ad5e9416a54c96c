using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_xcr.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXcr
{
    public uint Xcr;
    public uint Reserved;
    public ulong Value;
}

/// <summary>struct kvm_xcrs: extended control registers (XCR0).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmXcrs
{
    public uint NrXcrs;
    public uint Flags;
    public fixed byte Xcrs[16 * 16]; // struct kvm_xcr[KVM_MAX_XCRS]
    public fixed ulong Padding[16];

    public readonly KvmXcr Get(int i)
    {
        fixed (byte* p = Xcrs) return ((KvmXcr*)p)[i];
    }

    public void Set(int i, KvmXcr value)
    {
        fixed (byte* p = Xcrs) ((KvmXcr*)p)[i] = value;
    }
}
