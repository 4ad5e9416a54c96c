namespace VmReplay.Engine.Boot;

/// <summary>Guest image formats vmreplay boots, detected by content.</summary>
public enum BootImageFormat
{
    /// <summary>Multiboot 1: an ELF32 (or a.out-kludge image) with a Multiboot header, entered in 32-bit protected mode.</summary>
    Multiboot,
    /// <summary>An ELF64 executable entered at its entry point in 64-bit long mode with identity paging.</summary>
    Elf64,
    /// <summary>A raw boot sector (0x55 0xAA at offset 510), entered in real mode at 0000:7C00.</summary>
    BootSector,
    /// <summary>A Linux bzImage ("HdrS" at offset 0x202), entered at its 64-bit entry point with a zero page (struct boot_params).</summary>
    LinuxBzImage,
    /// <summary>An ELF kernel with Xen's PVH entry note (a Linux vmlinux), entered in 32-bit protected mode with an hvm_start_info.</summary>
    LinuxPvh,
}
