using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Loads a raw boot sector at 0000:7C00 and enters it in real mode as a BIOS would, with DL = 0x80
/// (the boot drive). An image longer than 512 bytes is loaded whole, so a small real-mode program
/// needs no disk driver; it must fit below the EBDA.
/// </summary>
internal static class BootSectorLoader
{
    private const ulong LoadAddress = 0x7C00;

    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source)
    {
        if ((ulong)image.Length > PcMemoryMap.ConventionalEnd - LoadAddress)
            throw new GuestImageException($"{source}: a boot-sector image of {image.Length} bytes does not fit between 7C00 and the EBDA at {PcMemoryMap.ConventionalEnd:x}");
        ImagePlacement.Place(memory, source, LoadAddress, image, (ulong)image.Length);
        entry.Sregs.Cs = BootSegments.RealMode(0, code: true);
        entry.Sregs.Ds = entry.Sregs.Es = entry.Sregs.Fs = entry.Sregs.Gs = entry.Sregs.Ss = BootSegments.RealMode(0, code: false);
        entry.Sregs.Idt = new() { Base = 0, Limit = 0x3FF };
        entry.Regs = new() { Rdx = 0x80, Rsp = LoadAddress, Rip = LoadAddress, Rflags = 0x2 };
        return new LoadedImage(BootImageFormat.BootSector, LoadAddress, LoadAddress, LoadAddress + (ulong)image.Length);
    }
}
