using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_msr_filter_range.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrFilterRange
{
    public uint Flags;
    public uint NMsrs;
    public uint Base;
    public uint Pad;
    public ulong Bitmap; // __u8 *bitmap

    public const uint FlagRead = 1;
    public const uint FlagWrite = 2;
}

/// <summary>struct kvm_msr_filter: up to 16 ranges; a clear bitmap bit denies the access to KVM (it exits to userspace), as does the default with <see cref="DefaultDeny"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmMsrFilter
{
    public uint Flags;
    public uint Pad;
    public fixed byte Ranges[16 * 24];

    public const uint DefaultAllow = 0;
    public const uint DefaultDeny = 1;
    public const int MaxRanges = 16;

    public void SetRange(int i, KvmMsrFilterRange range)
    {
        fixed (byte* p = Ranges) ((KvmMsrFilterRange*)p)[i] = range;
    }
}
