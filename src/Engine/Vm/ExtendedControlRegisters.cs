using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// One extended control register.
/// Laid out as KVM's struct kvm_xcr, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct ExtendedControlRegister
{
    public uint Xcr;
    public uint Reserved;
    public ulong Value;
}

/// <summary>
/// Extended control registers (XCR0).
/// Laid out as KVM's struct kvm_xcrs, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct ExtendedControlRegisters
{
    public uint NrXcrs;
    public uint Flags;
    public fixed byte Xcrs[16 * 16]; // struct kvm_xcr[KVM_MAX_XCRS]
    public fixed ulong Padding[16];

    public readonly ExtendedControlRegister Get(int i)
    {
        fixed (byte* p = Xcrs) return ((ExtendedControlRegister*)p)[i];
    }

    public void Set(int i, ExtendedControlRegister value)
    {
        fixed (byte* p = Xcrs) ((ExtendedControlRegister*)p)[i] = value;
    }
}
