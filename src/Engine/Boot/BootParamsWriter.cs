using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Builds Linux's zero page, struct boot_params (arch/x86/include/uapi/asm/bootparam.h,
/// Documentation/arch/x86/zero-page.rst), as the 64-bit boot protocol asks: all zero, the
/// kernel's setup header copied in at 0x1F1 and then filled in by the loader, and the e820
/// memory map a BIOS would have reported.
/// </summary>
internal static class BootParamsWriter
{
    internal const int Size = 0x1000;

    // Offsets in struct boot_params outside the setup header.
    internal const int ExtRamdiskImageOffset = 0x0C0;
    internal const int ExtRamdiskSizeOffset = 0x0C4;
    internal const int ExtCmdLinePtrOffset = 0x0C8;
    internal const int E820EntriesOffset = 0x1E8;
    internal const int E820TableOffset = 0x2D0;
    internal const int E820MaxEntries = 128;     // E820_MAX_ENTRIES_ZEROPAGE
    private const int E820EntrySize = 20;        // struct boot_e820_entry: addr, size, type (packed)

    /// <summary>"If your boot loader has no assigned id, enter 0xFF here" (boot.rst, type_of_loader).</summary>
    internal const byte LoaderTypeUndefined = 0xFF;

    /// <summary>The zero page's bytes for a kernel loaded at <paramref name="loadAddress"/>; an initrd of size 0 is none.</summary>
    internal static byte[] Build(ReadOnlySpan<byte> image, LinuxSetupHeader header, IReadOnlyList<MemoryMapEntry> memoryMap,
        ulong loadAddress, ulong cmdlineAddress, ulong initrdAddress, ulong initrdSize)
    {
        if (memoryMap.Count > E820MaxEntries)
            throw new ArgumentException($"a memory map of {memoryMap.Count} entries does not fit the zero page's {E820MaxEntries}");
        var page = new byte[Size];
        // The header as the kernel wrote it, so fields this loader does not know keep the kernel's values.
        int start = LinuxSetupHeader.SetupSectsOffset;
        image[start..header.End].CopyTo(page.AsSpan(start));

        page[LinuxSetupHeader.TypeOfLoaderOffset] = LoaderTypeUndefined;
        // code32_start is where the protected-mode kernel was loaded (boot.rst: a loader that loads it elsewhere sets it).
        U32(page, LinuxSetupHeader.Code32StartOffset, (uint)loadAddress);
        U32(page, LinuxSetupHeader.CmdLinePtrOffset, (uint)cmdlineAddress);
        U32(page, ExtCmdLinePtrOffset, (uint)(cmdlineAddress >> 32));
        U32(page, LinuxSetupHeader.RamdiskImageOffset, (uint)initrdAddress);
        U32(page, LinuxSetupHeader.RamdiskSizeOffset, (uint)initrdSize);
        U32(page, ExtRamdiskImageOffset, (uint)(initrdAddress >> 32));
        U32(page, ExtRamdiskSizeOffset, (uint)(initrdSize >> 32));

        page[E820EntriesOffset] = (byte)memoryMap.Count;
        for (int i = 0; i < memoryMap.Count; i++)
        {
            var e = page.AsSpan(E820TableOffset + i * E820EntrySize, E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, memoryMap[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], memoryMap[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)memoryMap[i].Type);
        }
        return page;
    }

    private static void U32(byte[] page, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(offset), value);
}
