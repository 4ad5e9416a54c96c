using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// Pending and injected exceptions, interrupts, NMIs and the interrupt shadow.
/// Laid out as KVM's struct kvm_vcpu_events, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct VcpuEventState
{
    public byte ExceptionInjected, ExceptionNr, ExceptionHasErrorCode, ExceptionPending;
    public uint ExceptionErrorCode;
    public byte InterruptInjected, InterruptNr, InterruptSoft, InterruptShadow;
    public byte NmiInjected, NmiPending, NmiMasked, NmiPad;
    public uint SipiVector;
    public uint Flags;
    public byte SmiSmm, SmiPending, SmiInsideNmi, SmiLatchedInit;
    public byte TripleFaultPending;
    public fixed byte Reserved[26];
    public byte ExceptionHasPayload;
    public ulong ExceptionPayload;

    /// <summary>KVM_VCPUEVENT_VALID_SHADOW: the interrupt shadow field is to be applied on set.</summary>
    public const uint ValidShadow = 0x4;
}
