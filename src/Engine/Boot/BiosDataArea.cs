using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>
/// The words of the BIOS data area that say where conventional memory ends: the EBDA segment at
/// 0x40E and the base memory size in KiB at 0x413. No BIOS runs, but kernels read them all the
/// same to place their low-memory trampolines (Xen's head.S takes the lower of them and
/// Multiboot's mem_lower, so zeros put its trampoline at the top of the 4 GiB space) or to find
/// the EBDA; they describe the EBDA <see cref="PcMemoryMap"/> reserves.
/// </summary>
internal static class BiosDataArea
{
    private const ulong EbdaSegmentAddress = 0x40E;
    private const ulong BaseMemoryKiBAddress = 0x413;

    internal static void Write(GuestMemory memory)
    {
        memory.WriteUInt16(EbdaSegmentAddress, (ushort)(PcMemoryMap.ConventionalEnd >> 4));
        memory.WriteUInt16(BaseMemoryKiBAddress, (ushort)(PcMemoryMap.ConventionalEnd / 1024));
    }
}
