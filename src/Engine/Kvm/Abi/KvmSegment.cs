using System.Runtime.InteropServices;

namespace VmReplay.Engine.Kvm.Abi;

/// <summary>struct kvm_segment: a segment register with its hidden descriptor cache.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
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
