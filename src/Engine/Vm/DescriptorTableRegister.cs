using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// GDTR or IDTR.
/// Laid out as KVM's struct kvm_dtable, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DescriptorTableRegister
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}
