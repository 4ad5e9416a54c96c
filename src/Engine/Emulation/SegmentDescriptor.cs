using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// An 8-byte descriptor (SDM vol. 3A, 3.4.5 and 3.5) read from the GDT or LDT: a code or data
/// segment, or a system descriptor (LDT, TSS, gate) whose type field says which.
/// </summary>
internal readonly record struct SegmentDescriptor(ulong Raw, ulong TableAddress)
{
    /// <summary>System descriptor types (S = 0) outside IA-32e mode; in IA-32e mode 9/B are the 64-bit TSS and C the 64-bit call gate.</summary>
    public const byte AvailableTss16 = 1, Ldt = 2, BusyTss16 = 3, CallGate16 = 4, TaskGate = 5, InterruptGate16 = 6, TrapGate16 = 7,
        AvailableTss32 = 9, BusyTss32 = 0xB, CallGate32 = 0xC, InterruptGate32 = 0xE, TrapGate32 = 0xF;

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
    /// <summary>Data segments, and code segments with the readable bit.</summary>
    public bool IsReadable => S && ((Type & 0x8) == 0 || (Type & 0x2) != 0);
    /// <summary>An available or busy TSS of either size.</summary>
    public bool IsTss => !S && Type is AvailableTss16 or BusyTss16 or AvailableTss32 or BusyTss32;

    /// <summary>
    /// The access-rights dword LAR returns: bits 23:8 of the descriptor's high dword (type, S,
    /// DPL, P, limit 19:16, AVL, L, D/B, G). The SDM leaves bits 19:16 undefined; they are
    /// returned as the descriptor has them.
    /// </summary>
    public uint AccessRights => (uint)(Raw >> 32) & 0x00FF_FF00;

    public SegmentRegister ToSegmentRegister(ushort selector) => new()
    {
        Base = Base, Limit = Limit, Selector = selector, Type = (byte)(S ? Type | 1 : Type), Present = 1, Dpl = (byte)Dpl,
        Db = (byte)(Db ? 1 : 0), S = (byte)(S ? 1 : 0), L = (byte)(L ? 1 : 0), G = (byte)(G ? 1 : 0),
        Avl = (byte)((Raw >> 52) & 1),
    };

    /// <summary>
    /// Reads the descriptor for <paramref name="selector"/>; #GP(selector) when it lies beyond the
    /// table limit. The table is read with supervisor rights whatever the CPL, as the CPU does.
    /// </summary>
    public static SegmentDescriptor Load(VcpuState state, GuestLinearMemory memory, ushort selector) =>
        Load(state, memory, selector, external: false);

    /// <summary>
    /// As <see cref="Load(VcpuState, GuestLinearMemory, ushort)"/>, with the EXT bit of the error
    /// code set when the load belongs to the delivery of an event external to the program.
    /// </summary>
    public static SegmentDescriptor Load(VcpuState state, GuestLinearMemory memory, ushort selector, bool external)
    {
        uint error = (uint)(selector & 0xFFFC) | (external ? 1u : 0);
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? state.Sregs.Ldt.Base : state.Sregs.Gdt.Base;
        uint tableLimit = ldt ? state.Sregs.Ldt.Limit : state.Sregs.Gdt.Limit;
        if (ldt && state.Sregs.Ldt.Unusable != 0) throw GuestException.Gp(error);
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > tableLimit) throw GuestException.Gp(error);
        ulong address = tableBase + offset;
        return new SegmentDescriptor(memory.ReadUInt(address, 8, user: false), address);
    }

    /// <summary>Sets the accessed bit in memory if it is clear, as loading a segment register does.</summary>
    public void MarkAccessed(GuestLinearMemory memory)
    {
        if (!S || (Type & 1) != 0) return;
        memory.Write(TableAddress + 5, [(byte)((Raw >> 40) | 1)], user: false);
    }
}
