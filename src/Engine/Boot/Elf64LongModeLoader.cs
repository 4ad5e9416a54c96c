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
    private const ulong Pml4Address = 0x1000;
    private const ulong PdptAddress = 0x2000;
    private const ulong PdAddress = 0x3000; // four page directories, 0x3000-0x6FFF
    private const ulong StackTop = 0x9F000;

    internal static LoadedImage Load(GuestMemory memory, Vcpu vcpu, ReadOnlySpan<byte> image, string source, string cmdline)
    {
        var elf = ElfImage.Parse(image, source);
        if (elf.Machine != ElfImage.MachineX86_64)
            throw new GuestImageException($"{source}: ELF64 for machine {elf.Machine}, not x86-64");
        var (low, high) = ImagePlacement.PlaceSegments(memory, source, image, elf);

        // Present | writable, and PS for 2 MiB leaves (SDM vol. 3A, 4.5).
        memory.WriteUInt64(Pml4Address, PdptAddress | 0x3);
        for (ulong gib = 0; gib < 4; gib++)
        {
            ulong pd = PdAddress + gib * 0x1000;
            memory.WriteUInt64(PdptAddress + gib * 8, pd | 0x3);
            for (ulong i = 0; i < 512; i++)
                memory.WriteUInt64(pd + i * 8, (gib << 30) + (i << 21) | 0x83);
        }
        ulong info = MultibootInfoWriter.Write(memory, cmdline, source);
        var gdt = BootSegments.WriteGdt(memory, GdtAddress);
        vcpu.WithState(s =>
        {
            s.Sregs.Cs = BootSegments.Code64();
            s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = s.Sregs.Ss = BootSegments.FlatData32();
            s.Sregs.Gdt = gdt;
            s.Sregs.Idt = new() { Base = 0, Limit = 0 };
            s.Sregs.Cr3 = Pml4Address;
            s.Sregs.Cr4 = 0x20;              // PAE
            s.Sregs.Cr0 = 0x8000_0031;       // PG | NE | ET | PE
            s.Sregs.Efer = 0x500;            // LME | LMA
            s.Regs = new() { Rax = MultibootInfoWriter.BootloaderMagic, Rbx = info, Rsp = StackTop, Rip = elf.Entry, Rflags = 0x2 };
        });
        return new LoadedImage(BootImageFormat.Elf64, elf.Entry, low, high);
    }
}
