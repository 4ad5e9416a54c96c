using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Page tables that map the first 4 GiB one to one with 2 MiB pages, and the control registers
/// that enter long mode through them, as Firecracker sets up a kernel's 64-bit entry: every
/// address a loader hands over (image, boot information, command line) is then reachable.
/// </summary>
internal static class IdentityPaging
{
    internal const ulong Pml4Address = 0x1000;
    private const ulong PdptAddress = 0x2000;
    private const ulong PdAddress = 0x3000; // four page directories, 0x3000-0x6FFF

    /// <summary>First byte after the tables.</summary>
    internal const ulong End = PdAddress + 4 * 0x1000;

    internal const ulong Cr0 = 0x8000_0031;   // PG | NE | ET | PE
    internal const ulong Cr4 = 0x20;          // PAE
    internal const ulong Efer = 0x500;        // LME | LMA

    /// <summary>Writes the tables at 0x1000-0x6FFF.</summary>
    internal static void Write(GuestMemory memory)
    {
        // Present | writable, and PS for 2 MiB leaves (SDM vol. 3A, 4.5).
        memory.WriteUInt64(Pml4Address, PdptAddress | 0x3);
        for (ulong gib = 0; gib < 4; gib++)
        {
            ulong pd = PdAddress + gib * 0x1000;
            memory.WriteUInt64(PdptAddress + gib * 8, pd | 0x3);
            for (ulong i = 0; i < 512; i++)
                memory.WriteUInt64(pd + i * 8, (gib << 30) + (i << 21) | 0x83);
        }
    }

    /// <summary>Turns on paging through the tables in long mode (the code segment decides 64-bit or compatibility mode).</summary>
    internal static void Enable(ref SystemRegisters sregs)
    {
        sregs.Cr3 = Pml4Address;
        sregs.Cr4 = Cr4;
        sregs.Cr0 = Cr0;
        sregs.Efer = Efer;
    }
}
