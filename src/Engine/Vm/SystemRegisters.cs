using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// Segment, descriptor-table and control registers, EFER and the APIC base.
/// Laid out as KVM's struct kvm_sregs, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SystemRegisters
{
    public SegmentRegister Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public DescriptorTableRegister Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    /// <summary>A pending external interrupt as a bitmap of vectors (KVM_NR_INTERRUPTS = 256).</summary>
    public fixed ulong InterruptBitmap[4];
}
