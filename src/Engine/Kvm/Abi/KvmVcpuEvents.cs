using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_vcpu_events: pending and injected exceptions, interrupts, NMIs and the interrupt shadow.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmVcpuEvents
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
