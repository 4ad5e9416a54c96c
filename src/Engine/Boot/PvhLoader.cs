using System.Text;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Boots an ELF kernel with a PVH entry note (a Linux vmlinux built with CONFIG_PVH) as
/// Firecracker and cloud-hypervisor do: PT_LOAD segments at their physical addresses, an
/// hvm_start_info with the memory map, command line and initrd module, then the note's entry in
/// 32-bit protected mode as xen docs/misc/pvh.pandoc requires: flat 4 GiB code and data segments,
/// CR0.PE only, paging and interrupts off, a 32-bit TSS in TR, EBX = the hvm_start_info. The
/// kernel sets up its own stack, GDT, IDT and paging, and the decompressor of a bzImage is skipped.
/// </summary>
internal static class PvhLoader
{
    private const ulong GdtAddress = 0x500;
    internal const ulong CmdlineAddress = 0x20000;

    /// <summary>x86 Linux copies at most COMMAND_LINE_SIZE (2048) bytes, NUL included, and silently drops the rest.</summary>
    internal const int MaxCmdline = 2047;

    /// <summary>Below this lie the GDT, hvm_start_info, module list, memory map and command line.</summary>
    private const ulong BootInfoEnd = CmdlineAddress + MaxCmdline + 1;

    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source, string cmdline, ReadOnlySpan<byte> initrd)
    {
        var elf = ElfImage.Parse(image, source);
        ushort machine = elf.Is64 ? ElfImage.MachineX86_64 : ElfImage.MachineI386;
        if (elf.Machine != machine)
            throw new GuestImageException($"{source}: ELF{(elf.Is64 ? 64 : 32)} for machine {elf.Machine}, not {(elf.Is64 ? "x86-64" : "i386")}");
        uint entryPoint = PvhEntryNote.Find(image, elf)
            ?? throw new GuestImageException($"{source}: no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build the kernel with CONFIG_PVH");
        if (!elf.LoadSegments.Any(s => entryPoint >= s.PhysicalAddress && entryPoint < s.PhysicalAddress + s.MemorySize))
            throw new GuestImageException($"{source}: the PVH entry point {entryPoint:x} lies outside every loaded segment");
        var cmd = Encoding.UTF8.GetBytes(cmdline);
        if (cmd.Length > MaxCmdline)
            throw new GuestImageException($"{source}: the command line of {cmd.Length} bytes is longer than the {MaxCmdline} bytes x86 Linux reads (COMMAND_LINE_SIZE)");

        ulong lowest = elf.LoadSegments.Min(s => s.PhysicalAddress);
        if (lowest < BootInfoEnd)
            throw new GuestImageException($"{source}: a segment loads at {lowest:x}, over the boot information vmreplay puts below {BootInfoEnd:x}");
        var (low, high) = ImagePlacement.PlaceSegments(memory, source, image, elf);
        ulong initrdAddress = initrd.IsEmpty ? 0 : InitrdPlacement.Place(memory, source, initrd, high, GuestMemory.FourGiB, "4 GiB");
        memory.Write(CmdlineAddress, [.. cmd, 0]);
        ulong startInfo = HvmStartInfoWriter.Write(memory, PcMemoryMap.Build(memory), CmdlineAddress, initrdAddress, (ulong)initrd.Length);

        entry.Sregs.Cs = BootSegments.FlatCode32();
        entry.Sregs.Ds = entry.Sregs.Es = entry.Sregs.Fs = entry.Sregs.Gs = entry.Sregs.Ss = BootSegments.FlatData32();
        entry.Sregs.Tr = BootSegments.Tss32();
        entry.Sregs.Gdt = BootSegments.WriteGdt(memory, GdtAddress);
        entry.Sregs.Idt = new() { Base = 0, Limit = 0 };
        entry.Sregs.Cr0 = 0x11; // PE, and ET, which the CPU keeps set
        entry.Sregs.Cr3 = 0;
        entry.Sregs.Cr4 = 0;
        entry.Sregs.Efer = 0;
        entry.Regs = new() { Rbx = startInfo, Rip = entryPoint, Rflags = 0x2 };
        return new LoadedImage(BootImageFormat.LinuxPvh, entryPoint, low, high, initrdAddress, (ulong)initrd.Length);
    }
}
