using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// The guest's own DR0-3, DR6, DR7.
/// Laid out as KVM's struct kvm_debugregs, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DebugRegisters
{
    public fixed ulong Db[4];
    public ulong Dr6;
    public ulong Dr7;
    public ulong Flags;
    public fixed ulong Reserved[9];
}
