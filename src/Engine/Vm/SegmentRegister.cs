using System.Runtime.InteropServices;

namespace VmReplay.Engine.Vm;

/// <summary>
/// A segment register with its hidden descriptor cache.
/// Laid out as KVM's struct kvm_segment, so the KVM binding passes it to the ioctls as
/// it is; the software CPU keeps its state in the same record, so both backends save the same
/// plain data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SegmentRegister
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;

    public override readonly string ToString() =>
        $"sel={Selector:x4} base={Base:x} limit={Limit:x} type={Type} p={Present} dpl={Dpl} db={Db} s={S} l={L} g={G}";
}
