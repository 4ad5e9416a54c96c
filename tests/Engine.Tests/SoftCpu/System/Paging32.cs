using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;

/// <summary>32-bit page tables (SDM vol. 3A, 4.3) for test guests: a directory whose first table maps the 2 MiB of RAM one to one.</summary>
internal static class Paging32
{
    public const uint Present = 1, Writable = 2, User = 4, Accessed = 0x20, Dirty = 0x40, Large = 0x80;

    /// <summary>A page directory at <paramref name="directory"/> with its first table right after it, mapping 0-2 MiB to itself with <paramref name="flags"/>.</summary>
    public static void IdentityMap(GuestMemory m, uint directory, uint flags = Present | Writable | User)
    {
        uint table = directory + 0x1000;
        m.WriteUInt32(directory, table | Present | Writable | User);
        for (uint i = 0; i < 512; i++) m.WriteUInt32(table + i * 4, i * 0x1000 | flags);
    }

    /// <summary>The page-table entry of <paramref name="linear"/> (in the first 4 MiB) in the table after <paramref name="directory"/>.</summary>
    public static ulong PteAddress(uint directory, uint linear) => directory + 0x1000 + (linear >> 12) * 4;

    public static void SetPte(GuestMemory m, uint directory, uint linear, uint entry) => m.WriteUInt32(PteAddress(directory, linear), entry);
}
