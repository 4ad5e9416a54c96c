using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_cpuid_entry2: one CPUID leaf/subleaf.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    public fixed uint Padding[3];

    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the subleaf (ECX input) selects this entry.</summary>
    public const uint SignificantIndex = 1;
}
