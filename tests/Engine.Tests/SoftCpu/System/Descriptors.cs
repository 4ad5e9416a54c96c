namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>Descriptor encodings (SDM vol. 3A, 3.4.5, 5.8.3, 6.11, 6.14.1, 7.2.2) for test guests' GDTs and IDTs.</summary>
internal static class Descriptors
{
    /// <summary>A code or data segment descriptor; <paramref name="type"/> is the 4-bit type (code: 8-F, data: 0-7).</summary>
    public static ulong Segment(uint @base, uint limit, int type, int dpl, bool db = true, bool l = false, bool present = true, bool system = false)
    {
        bool g = limit > 0xFFFFF;
        uint rawLimit = g ? limit >> 12 : limit;
        ulong low = (rawLimit & 0xFFFF) | (ulong)(@base & 0xFFFF) << 16;
        ulong high = ((@base >> 16) & 0xFF) | (uint)type << 8 | (system ? 0u : 1u) << 12 | (uint)dpl << 13 | (present ? 1u : 0) << 15
            | (rawLimit >> 16 & 0xF) << 16 | (l ? 1u : 0) << 21 | (db ? 1u : 0) << 22 | (g ? 1u : 0) << 23 | (@base >> 24) << 24;
        return low | high << 32;
    }

    public static ulong FlatCode(int dpl, bool db = true, bool l = false) => Segment(0, 0xFFFF_FFFF, 0xA, dpl, db, l);

    public static ulong FlatData(int dpl) => Segment(0, 0xFFFF_FFFF, 2, dpl);

    /// <summary>A system descriptor (LDT 2, TSS 9/B): base, limit, type, DPL.</summary>
    public static ulong System(uint @base, uint limit, int type, int dpl = 0, bool present = true) =>
        Segment(@base, limit, type, dpl, db: false, present: present, system: true);

    /// <summary>An 8-byte gate: call gate (4, C), task gate (5), interrupt (6, E) or trap gate (7, F).</summary>
    public static ulong Gate(ushort selector, ulong offset, int type, int dpl, int parameters = 0, bool present = true) =>
        (offset & 0xFFFF) | (ulong)selector << 16 | (ulong)(parameters & 0x1F) << 32 | (ulong)type << 40 | (ulong)dpl << 45
        | (present ? 1UL : 0) << 47 | ((offset >> 16) & 0xFFFF) << 48;

    /// <summary>A 16-byte IA-32e gate: 64-bit call gate (C), interrupt (E) or trap gate (F), with an IST index.</summary>
    public static (ulong Low, ulong High) Gate64(ushort selector, ulong offset, int type, int dpl, int ist = 0, bool present = true) =>
        (Gate(selector, offset, type, dpl, present: present) | (ulong)(ist & 7) << 32, offset >> 32);
}
