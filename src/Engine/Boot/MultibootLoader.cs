using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Loads a Multiboot 1 kernel as GRUB and QEMU's <c>-kernel</c> do: segments at their physical
/// addresses (or the a.out-kludge addresses), then 32-bit protected mode with flat segments,
/// paging and interrupts off, EAX = 0x2BADB002 and EBX = the Multiboot information. The ELF may
/// be an ELF64 for x86-64, as GRUB takes it: loaded below 4 GiB and entered in 32-bit mode all the same.
/// </summary>
internal static class MultibootLoader
{
    private const ulong GdtAddress = 0x500;
    // The specification leaves ESP undefined, but GRUB and QEMU hand over their own stack in low
    // memory, and kernels that call into C before setting one up rely on it (beginOS does).
    private const ulong StackTop = 0x9F000;

    // Flags 0-15 are requirements; a loader must refuse the ones it cannot meet.
    private const uint Supported = MultibootHeader.FlagPageAlign | MultibootHeader.FlagMemoryInfo;

    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source, string cmdline)
    {
        var header = MultibootHeader.Find(image) ?? throw new GuestImageException($"{source}: no Multiboot header");
        uint required = header.Flags & 0xFFFF & ~Supported;
        if ((required & MultibootHeader.FlagVideoMode) != 0)
            throw new GuestImageException($"{source}: the Multiboot header requires a video mode (flag 2), which vmreplay does not provide");
        if (required != 0)
            throw new GuestImageException($"{source}: the Multiboot header requires unknown features (flags {required:x})");

        ulong entryPoint, low, high;
        if ((header.Flags & MultibootHeader.FlagAoutKludge) != 0)
        {
            long fileStart = header.FileOffset - (long)(header.HeaderAddr - header.LoadAddr);
            if (fileStart < 0 || header.HeaderAddr < header.LoadAddr)
                throw new GuestImageException($"{source}: Multiboot load address {header.LoadAddr:x} is after the header address {header.HeaderAddr:x}");
            ulong fileLen = header.LoadEndAddr == 0 ? (ulong)(image.Length - fileStart) : header.LoadEndAddr - header.LoadAddr;
            if ((ulong)fileStart + fileLen > (ulong)image.Length)
                throw new GuestImageException($"{source}: Multiboot load_end_addr {header.LoadEndAddr:x} lies past the end of the file");
            ulong memLen = header.BssEndAddr == 0 ? fileLen : header.BssEndAddr - header.LoadAddr;
            ImagePlacement.Place(memory, source, header.LoadAddr, image.Slice((int)fileStart, (int)fileLen), Math.Max(memLen, fileLen));
            entryPoint = header.EntryAddr;
            low = header.LoadAddr;
            high = header.LoadAddr + Math.Max(memLen, fileLen);
        }
        else
        {
            var elf = ElfImage.Parse(image, source);
            if (elf.Machine != (elf.Is64 ? ElfImage.MachineX86_64 : ElfImage.MachineI386))
                throw new GuestImageException($"{source}: a Multiboot ELF must be ELF32 for i386 or ELF64 for x86-64 (machine {elf.Machine})");
            foreach (var seg in elf.LoadSegments)
                if (seg.PhysicalAddress >= GuestMemory.FourGiB || seg.MemorySize > GuestMemory.FourGiB - seg.PhysicalAddress)
                    throw new GuestImageException($"{source}: a Multiboot segment at physical {seg.PhysicalAddress:x} lies above 4 GiB");
            (low, high) = ImagePlacement.PlaceSegments(memory, source, image, elf);
            entryPoint = PhysicalEntry(elf);
            if (entryPoint > uint.MaxValue)
                throw new GuestImageException($"{source}: the Multiboot entry point {entryPoint:x} is not a 32-bit physical address");
        }

        ulong info = MultibootInfoWriter.Write(memory, cmdline, source);
        entry.Sregs.Cs = BootSegments.FlatCode32();
        entry.Sregs.Ds = entry.Sregs.Es = entry.Sregs.Fs = entry.Sregs.Gs = entry.Sregs.Ss = BootSegments.FlatData32();
        entry.Sregs.Gdt = BootSegments.WriteGdt(memory, GdtAddress);
        entry.Sregs.Idt = new() { Base = 0, Limit = 0 };
        entry.Sregs.Cr0 = 0x11; // PE | ET
        entry.Sregs.Cr4 = 0;
        entry.Sregs.Efer = 0;
        entry.Regs = new() { Rax = MultibootInfoWriter.BootloaderMagic, Rbx = info, Rsp = StackTop, Rip = entryPoint, Rflags = 0x2 };
        return new LoadedImage(BootImageFormat.Multiboot, entryPoint, low, high);
    }

    // The kernel starts with paging off, so GRUB enters a higher-half kernel, whose e_entry is a
    // virtual address, at the physical address of the segment byte it names. An entry no segment
    // holds is taken as it is, as QEMU takes every entry (GRUB refuses such an image).
    private static ulong PhysicalEntry(ElfImage elf)
    {
        foreach (var seg in elf.LoadSegments)
            if (elf.Entry >= seg.VirtualAddress && elf.Entry - seg.VirtualAddress < seg.MemorySize)
                return elf.Entry - seg.VirtualAddress + seg.PhysicalAddress;
        return elf.Entry;
    }
}
