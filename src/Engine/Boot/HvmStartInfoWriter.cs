using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Builds the PVH boot protocol's struct hvm_start_info, version 1, with its memory map and
/// module list (xen/include/public/arch-x86/hvm/start_info.h), at the addresses
/// cloud-hypervisor uses: the kernel finds everything through the one pointer in EBX.
/// </summary>
internal static class HvmStartInfoWriter
{
    internal const uint Magic = 0x336EC578; // "xEn3" with the 0x80 bit of the "E" set
    internal const uint Version = 1;        // version 1 adds the memory map

    internal const ulong StartInfoAddress = 0x6000;
    internal const ulong ModlistAddress = 0x6040;
    internal const ulong MemmapAddress = 0x7000;
    private const int StartInfoSize = 56;
    private const int ModlistEntrySize = 32;
    private const int MemmapEntrySize = 24;
    private const int MaxMemmapEntries = 0x1000 / MemmapEntrySize; // one page, up to 0x7FFF

    /// <summary>
    /// Writes the structures and returns the address of hvm_start_info. An initrd of size 0 is
    /// none; otherwise it is the single module, without a command line of its own.
    /// </summary>
    internal static ulong Write(GuestMemory memory, IReadOnlyList<MemoryMapEntry> memoryMap, ulong cmdlineAddress, ulong initrdAddress, ulong initrdSize)
    {
        if (memoryMap.Count > MaxMemmapEntries)
            throw new ArgumentException($"a memory map of {memoryMap.Count} entries does not fit the {MaxMemmapEntries} PVH entries vmreplay reserves");
        bool hasModule = initrdSize != 0;
        memory.Write(StartInfoAddress, new byte[StartInfoSize]);
        memory.WriteUInt32(StartInfoAddress + 0, Magic);
        memory.WriteUInt32(StartInfoAddress + 4, Version);
        memory.WriteUInt32(StartInfoAddress + 8, 0);                    // flags: no SIF_xxx
        memory.WriteUInt32(StartInfoAddress + 12, hasModule ? 1u : 0u); // nr_modules
        memory.WriteUInt64(StartInfoAddress + 16, hasModule ? ModlistAddress : 0);
        memory.WriteUInt64(StartInfoAddress + 24, cmdlineAddress);
        memory.WriteUInt64(StartInfoAddress + 32, 0);                   // rsdp_paddr: no ACPI tables
        memory.WriteUInt64(StartInfoAddress + 40, MemmapAddress);
        memory.WriteUInt32(StartInfoAddress + 48, (uint)memoryMap.Count);
        memory.WriteUInt32(StartInfoAddress + 52, 0);                   // reserved

        if (hasModule)
        {
            memory.Write(ModlistAddress, new byte[ModlistEntrySize]);
            memory.WriteUInt64(ModlistAddress + 0, initrdAddress);
            memory.WriteUInt64(ModlistAddress + 8, initrdSize);
            // cmdline_paddr and reserved stay 0: the module has no command line.
        }

        for (int i = 0; i < memoryMap.Count; i++)
        {
            ulong at = MemmapAddress + (ulong)(i * MemmapEntrySize);
            memory.WriteUInt64(at + 0, memoryMap[i].Base);
            memory.WriteUInt64(at + 8, memoryMap[i].Length);
            memory.WriteUInt32(at + 16, (uint)memoryMap[i].Type); // XEN_HVM_MEMMAP_TYPE_* are the e820 types
            memory.WriteUInt32(at + 20, 0);
        }
        return StartInfoAddress;
    }
}
