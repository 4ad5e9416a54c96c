using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// The segment registers and GDT a loader hands over: flat 32-bit protected mode as GRUB
/// leaves it, 64-bit long mode (with Linux's boot selectors for a bzImage), or real mode.
/// Descriptors are written to a real GDT in guest memory so the hidden parts of the segment
/// registers match what the guest could reload.
/// </summary>
internal static class BootSegments
{
    internal const ushort Code32Selector = 0x08, Data32Selector = 0x10, Code64Selector = 0x18;

    // Type 0xB: execute/read code, accessed; 0x3: read/write data, accessed.
    internal static SegmentRegister FlatCode32() => new() { Base = 0, Limit = 0xFFFF_FFFF, Selector = Code32Selector, Type = 0xB, Present = 1, S = 1, Db = 1, G = 1 };
    internal static SegmentRegister FlatData32() => new() { Base = 0, Limit = 0xFFFF_FFFF, Selector = Data32Selector, Type = 0x3, Present = 1, S = 1, Db = 1, G = 1 };
    internal static SegmentRegister Code64() => new() { Base = 0, Limit = 0xFFFF_FFFF, Selector = Code64Selector, Type = 0xB, Present = 1, S = 1, L = 1, G = 1 };

    internal static SegmentRegister RealMode(ushort selector, bool code) =>
        new() { Base = (ulong)selector << 4, Limit = 0xFFFF, Selector = selector, Type = code ? (byte)0xB : (byte)0x3, Present = 1, S = 1 };

    /// <summary>
    /// Linux's boot selectors, __BOOT_CS and __BOOT_DS (GDT entries 2 and 3, arch/x86/include/asm/segment.h):
    /// the 32- and 64-bit boot protocols require CS = 0x10 and DS/ES/SS = 0x18 in a GDT that holds them.
    /// </summary>
    internal const ushort LinuxBootCodeSelector = 0x10, LinuxBootDataSelector = 0x18;

    internal static SegmentRegister LinuxBootCode64() => Code64() with { Selector = LinuxBootCodeSelector };
    internal static SegmentRegister LinuxBootCode32() => FlatCode32() with { Selector = LinuxBootCodeSelector };
    internal static SegmentRegister LinuxBootData() => FlatData32() with { Selector = LinuxBootDataSelector };

    /// <summary>
    /// The task register the PVH boot protocol asks for: an active (busy) 32-bit TSS with base 0
    /// and limit 0x67 (xen docs/misc/pvh.pandoc). Its selector is unspecified and no GDT entry is needed.
    /// </summary>
    internal static SegmentRegister Tss32() => new() { Base = 0, Limit = 0x67, Selector = 0, Type = 0xB, Present = 1 };

    /// <summary>Writes a GDT (null, flat code32, flat data32, code64) at <paramref name="address"/> and returns its descriptor-table register.</summary>
    internal static DescriptorTableRegister WriteGdt(GuestMemory memory, ulong address) =>
        Write(memory, address, [0, Encode(FlatCode32()), Encode(FlatData32()), Encode(Code64())]);

    /// <summary>Writes the GDT of Linux's boot protocol (null, unused, __BOOT_CS <paramref name="code"/>, __BOOT_DS flat data).</summary>
    internal static DescriptorTableRegister WriteLinuxBootGdt(GuestMemory memory, ulong address, SegmentRegister code) =>
        Write(memory, address, [0, 0, Encode(code), Encode(LinuxBootData())]);

    private static DescriptorTableRegister Write(GuestMemory memory, ulong address, ulong[] gdt)
    {
        for (int i = 0; i < gdt.Length; i++) memory.WriteUInt64(address + (ulong)(i * 8), gdt[i]);
        return new DescriptorTableRegister { Base = address, Limit = (ushort)(gdt.Length * 8 - 1) };
    }

    /// <summary>Encodes a code/data segment as an 8-byte descriptor (SDM vol. 3A, 3.4.5).</summary>
    internal static ulong Encode(SegmentRegister s)
    {
        ulong limit = s.G != 0 ? s.Limit >> 12 : s.Limit;
        ulong d = (limit & 0xFFFF) | ((s.Base & 0xFFFFFF) << 16);
        d |= (ulong)(s.Type & 0xF) << 40 | (ulong)(s.S & 1) << 44 | (ulong)(s.Dpl & 3) << 45 | (ulong)(s.Present & 1) << 47;
        d |= ((limit >> 16) & 0xF) << 48 | (ulong)(s.Avl & 1) << 52 | (ulong)(s.L & 1) << 53 | (ulong)(s.Db & 1) << 54 | (ulong)(s.G & 1) << 55;
        d |= ((s.Base >> 24) & 0xFF) << 56;
        return d;
    }
}
