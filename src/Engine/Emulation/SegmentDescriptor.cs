using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>An 8-byte code or data segment descriptor (SDM vol. 3A, 3.4.5) read from the GDT or LDT.</summary>
internal readonly record struct SegmentDescriptor(ulong Raw, ulong TableAddress)
{
    public ulong Base => ((Raw >> 16) & 0xFF_FFFF) | ((Raw >> 56) & 0xFF) << 24;
    public uint Limit => G ? (RawLimit << 12) | 0xFFF : RawLimit;
    private uint RawLimit => (uint)((Raw & 0xFFFF) | ((Raw >> 48) & 0xF) << 16);
    public byte Type => (byte)((Raw >> 40) & 0xF);
    public bool S => ((Raw >> 44) & 1) != 0;
    public int Dpl => (int)((Raw >> 45) & 3);
    public bool Present => ((Raw >> 47) & 1) != 0;
    public bool L => ((Raw >> 53) & 1) != 0;
    public bool Db => ((Raw >> 54) & 1) != 0;
    public bool G => ((Raw >> 55) & 1) != 0;
    public bool IsCode => S && (Type & 0x8) != 0;
    public bool IsConforming => IsCode && (Type & 0x4) != 0;
    public bool IsWritableData => S && (Type & 0x8) == 0 && (Type & 0x2) != 0;

    public KvmSegment ToKvm(ushort selector) => new()
    {
        Base = Base, Limit = Limit, Selector = selector, Type = (byte)(Type | 1), Present = 1, Dpl = (byte)Dpl,
        Db = (byte)(Db ? 1 : 0), S = (byte)(S ? 1 : 0), L = (byte)(L ? 1 : 0), G = (byte)(G ? 1 : 0),
        Avl = (byte)((Raw >> 52) & 1),
    };

    /// <summary>
    /// Reads the descriptor for <paramref name="selector"/>; #GP(selector) when it lies beyond the
    /// table limit. The table is read with supervisor rights whatever the CPL, as the CPU does.
    /// </summary>
    public static SegmentDescriptor Load(VcpuState state, GuestLinearMemory memory, ushort selector)
    {
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? state.Sregs.Ldt.Base : state.Sregs.Gdt.Base;
        uint tableLimit = ldt ? state.Sregs.Ldt.Limit : state.Sregs.Gdt.Limit;
        if (ldt && state.Sregs.Ldt.Unusable != 0) throw GuestException.Gp((uint)(selector & 0xFFFC));
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > tableLimit) throw GuestException.Gp((uint)(selector & 0xFFFC));
        ulong address = tableBase + offset;
        return new SegmentDescriptor(memory.ReadUInt(address, 8, user: false), address);
    }

    /// <summary>Sets the accessed bit in memory if it is clear, as loading a segment register does.</summary>
    public void MarkAccessed(GuestLinearMemory memory)
    {
        if ((Type & 1) != 0) return;
        memory.Write(TableAddress + 5, [(byte)((Raw >> 40) | 1)], user: false);
    }
}
