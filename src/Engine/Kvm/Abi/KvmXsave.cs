using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_xsave: the 4 KiB XSAVE area as KVM_GET_XSAVE returns it.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmXsave
{
    public fixed uint Region[1024];
}
