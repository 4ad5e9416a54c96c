using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>One entry of the BIOS-style (e820) physical memory map handed to a guest.</summary>
public readonly record struct MemoryMapEntry(ulong Base, ulong Length, MemoryMapType Type);

public enum MemoryMapType : uint { Usable = 1, Reserved = 2 }

/// <summary>
/// The PC memory map of guest RAM: conventional memory below the EBDA, the legacy video and
/// BIOS area reserved, extended memory from 1 MiB, and any RAM above 4 GiB.
/// </summary>
public static class PcMemoryMap
{
    public const ulong ConventionalEnd = 0x9FC00; // 639 KiB: the EBDA follows, as on a PC
    public const ulong BiosAreaStart = 0xF0000;
    public const ulong ExtendedStart = 0x100000;

    public static IReadOnlyList<MemoryMapEntry> Build(GuestMemory memory)
    {
        var map = new List<MemoryMapEntry>
        {
            new(0, ConventionalEnd, MemoryMapType.Usable),
            new(ConventionalEnd, 0xA0000 - ConventionalEnd, MemoryMapType.Reserved),
            new(BiosAreaStart, ExtendedStart - BiosAreaStart, MemoryMapType.Reserved),
        };
        foreach (var r in memory.Regions)
        {
            ulong start = Math.Max(r.GuestBase, ExtendedStart);
            if (r.GuestEnd > start) map.Add(new MemoryMapEntry(start, r.GuestEnd - start, MemoryMapType.Usable));
        }
        return map;
    }

    /// <summary>The end of the RAM that starts at 0: below the 32-bit MMIO hole, so always below 4 GiB.</summary>
    public static ulong LowRamEnd(GuestMemory memory) => memory.FindRegion(0)?.GuestEnd ?? 0;

    /// <summary>Bytes of RAM from 1 MiB up to the first hole (Multiboot mem_upper, CMOS extended memory).</summary>
    public static ulong ExtendedMemoryBelowHole(GuestMemory memory)
    {
        var low = memory.FindRegion(0);
        return low is null || low.GuestEnd <= ExtendedStart ? 0 : low.GuestEnd - ExtendedStart;
    }
}
