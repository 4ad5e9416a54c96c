namespace VmReplay.Engine.Boot;

/// <summary>Tells the format of a guest image from its content, never its file name.</summary>
public static class GuestImageDetector
{
    public static BootImageFormat Detect(ReadOnlySpan<byte> image, string source)
    {
        if (image.Length == 0) throw new GuestImageException($"{source}: the file is empty");
        if (ElfImage.HasElfMagic(image))
        {
            // A PVH note wins over the ELF class: a vmlinux is an ELF64 whose 64-bit entry expects a zero page.
            if (ElfImage.TryParse(image) is { } elf && PvhEntryNote.Find(image, elf) is not null) return BootImageFormat.LinuxPvh;
            // A Multiboot header wins over the ELF class too: GRUB enters an ELF64 that has one in
            // 32-bit protected mode, and x86-64 kernels are commonly built that way (a 32-bit stub
            // that enables long mode); entered in long mode, that stub would not run.
            if (MultibootHeader.Find(image) is not null) return BootImageFormat.Multiboot;
            if (image.Length > 4 && image[4] == 2) return BootImageFormat.Elf64;
            throw new GuestImageException($"{source}: ELF32 image without a Multiboot header in its first 8 KiB or a PVH entry note (vmreplay boots Multiboot ELF32, ELF64, Linux bzImage and PVH kernels, and boot sectors)");
        }
        // Before the boot-sector rule: a bzImage starts with a boot sector (55 AA at 510) that only prints "use a boot loader".
        if (LinuxSetupHeader.IsPresent(image)) return BootImageFormat.LinuxBzImage;
        if (MultibootHeader.Find(image) is { } mb)
        {
            if ((mb.Flags & MultibootHeader.FlagAoutKludge) != 0) return BootImageFormat.Multiboot;
            throw new GuestImageException($"{source}: Multiboot header without load addresses (flag 16) in a non-ELF file");
        }
        if (image.Length >= 512 && image[510] == 0x55 && image[511] == 0xAA) return BootImageFormat.BootSector;
        throw new GuestImageException(
            $"{source}: unknown guest format (expected a Multiboot ELF32, an ELF64, a Linux bzImage or PVH vmlinux, or a boot sector with 55 AA at offset 510)");
    }
}
