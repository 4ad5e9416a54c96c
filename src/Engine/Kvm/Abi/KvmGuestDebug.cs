using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_guest_debug: the VMM's own debugging of the guest (single-step, hardware breakpoints).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmGuestDebug
{
    public uint Control;
    public uint Pad;
    public fixed ulong DebugReg[8];

    public const uint Enable = 0x1;
    public const uint SingleStep = 0x2;
    public const uint UseSwBp = 0x10000;
    public const uint UseHwBp = 0x20000;
}
