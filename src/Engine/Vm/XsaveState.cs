using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// The 4 KiB XSAVE area.
/// Laid out as KVM's struct kvm_xsave, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct XsaveState
{
    public fixed uint Region[1024];
}
