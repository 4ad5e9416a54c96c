using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Loads an ELF64 executable at its physical addresses and enters it in 64-bit long mode, as
/// Firecracker does for a kernel: identity page tables for the first 4 GiB (2 MiB pages), a
/// GDT with a 64-bit code segment, interrupts off. RAX/RBX carry the Multiboot magic and
/// information so such a guest still finds its command line and memory map.
/// </summary>
internal static class Elf64LongModeLoader
{
    private const ulong GdtAddress = 0x500;
    private const ulong StackTop = 0x9F000;

    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source, string cmdline)
    {
        var elf = ElfImage.Parse(image, source);
        if (elf.Machine != ElfImage.MachineX86_64)
            throw new GuestImageException($"{source}: ELF64 for machine {elf.Machine}, not x86-64");
        var (low, high) = ImagePlacement.PlaceSegments(memory, source, image, elf);
        IdentityPaging.Write(memory);
        ulong info = MultibootInfoWriter.Write(memory, cmdline, source);
        entry.Sregs.Cs = BootSegments.Code64();
        entry.Sregs.Ds = entry.Sregs.Es = entry.Sregs.Fs = entry.Sregs.Gs = entry.Sregs.Ss = BootSegments.FlatData32();
        entry.Sregs.Gdt = BootSegments.WriteGdt(memory, GdtAddress);
        entry.Sregs.Idt = new() { Base = 0, Limit = 0 };
        IdentityPaging.Enable(ref entry.Sregs);
        entry.Regs = new() { Rax = MultibootInfoWriter.BootloaderMagic, Rbx = info, Rsp = StackTop, Rip = elf.Entry, Rflags = 0x2 };
        return new LoadedImage(BootImageFormat.Elf64, elf.Entry, low, high);
    }
}
