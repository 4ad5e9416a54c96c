using System.Text;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Boots a Linux bzImage through the 64-bit boot protocol (Documentation/arch/x86/boot.rst), as
/// Firecracker and cloud-hypervisor do: the protected-mode kernel in RAM, a zero page with the
/// setup header, command line, initrd and e820 map, then the 64-bit entry in long mode with the
/// first 4 GiB identity mapped, CS = __BOOT_CS, DS/ES/SS = __BOOT_DS, RSI = the zero page and
/// interrupts off. A kernel without a 64-bit entry (xloadflags XLF_KERNEL_64 clear) is entered
/// through the 32-bit boot protocol instead. The real-mode setup code is not used.
/// </summary>
internal static class BzImageLoader
{
    private const ulong GdtAddress = 0x500;
    internal const ulong BootParamsAddress = IdentityPaging.End;   // 0x7000, right after the page tables
    internal const ulong CmdlineAddress = 0x20000;
    private const int CmdlineArea = 0x10000;                        // up to 0x2FFFF
    private const ulong StackTop = 0x9F000;                         // the protocol asks for none; Firecracker gives one anyway
    internal const ulong DefaultLoadAddress = 0x100000;

    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source, string cmdline, ReadOnlySpan<byte> initrd)
    {
        var header = LinuxSetupHeader.Parse(image, source);
        var cmd = Encoding.UTF8.GetBytes(cmdline);
        if ((ulong)cmd.Length > header.CmdlineSize)
            throw new GuestImageException($"{source}: the command line of {cmd.Length} bytes is longer than the kernel's cmdline_size of {header.CmdlineSize}");
        if (cmd.Length >= CmdlineArea)
            throw new GuestImageException($"{source}: the command line of {cmd.Length} bytes is longer than the {CmdlineArea - 1} vmreplay passes");

        var kernel = image[header.ProtectedModeOffset..];
        if (header.PrefAddress >= GuestMemory.FourGiB)
            throw new GuestImageException($"{source}: the kernel's pref_address {header.PrefAddress:x} is above 4 GiB; vmreplay loads kernels below it");
        // Load where the kernel will run. Its 64-bit entry decompresses to the load address
        // rounded up to kernel_alignment but never below LOAD_PHYSICAL_ADDR, which pref_address
        // holds (arch/x86/boot/compressed/head_64.S), so a kernel loaded at 1 MiB needs RAM up to
        // pref_address + init_size all the same. Loaded at pref_address it decompresses in place,
        // its whole footprint is [pref_address, +init_size) and 1 MiB..pref_address stays free, as
        // when GRUB loads it. 1 MiB, the protocol's traditional address, is left for a
        // pref_address below it.
        ulong load = header.PrefAddress >= DefaultLoadAddress ? header.PrefAddress : DefaultLoadAddress;
        ulong runAt = header.RelocatableKernel
            ? Math.Max(AlignUp(load, header.KernelAlignment), header.PrefAddress)
            : header.PrefAddress;
        ulong initSize = header.InitSize != 0 ? header.InitSize : (ulong)kernel.Length;
        ulong kernelEnd = Math.Max(load + (ulong)kernel.Length, runAt + initSize);
        ulong ramEnd = PcMemoryMap.LowRamEnd(memory);
        if (kernelEnd > ramEnd)
            throw new GuestImageException(
                $"{source}: the kernel needs RAM up to {kernelEnd:x} (loaded at {load:x}, init_size {initSize:x} from {runAt:x}), " +
                $"but guest RAM below 4 GiB ends at {ramEnd:x} (give more with --mem)");
        ImagePlacement.Place(memory, source, load, kernel, (ulong)kernel.Length);

        ulong initrdAddress = initrd.IsEmpty ? 0
            : InitrdPlacement.Place(memory, source, initrd, kernelEnd, (ulong)header.InitrdAddrMax + 1, "the kernel's initrd_addr_max");
        memory.Write(CmdlineAddress, [.. cmd, 0]);
        var bootParams = BootParamsWriter.Build(image, header, PcMemoryMap.Build(memory), load, CmdlineAddress, initrdAddress, (ulong)initrd.Length);
        memory.Write(BootParamsAddress, bootParams);
        ulong entryPoint;
        if ((header.XLoadFlags & LinuxSetupHeader.XlfKernel64) != 0)
        {
            IdentityPaging.Write(memory);
            entryPoint = load + LinuxSetupHeader.Entry64Offset;
            entry.Sregs.Cs = BootSegments.LinuxBootCode64();
            entry.Sregs.Gdt = BootSegments.WriteLinuxBootGdt(memory, GdtAddress, entry.Sregs.Cs);
            IdentityPaging.Enable(ref entry.Sregs);
        }
        else
        {
            // The 32-bit boot protocol, for a kernel without a 64-bit entry (i386 Linux, memtest86+'s
            // ia32 image): the start of the protected-mode kernel in flat 32-bit mode, paging off.
            entryPoint = load;
            entry.Sregs.Cs = BootSegments.LinuxBootCode32();
            entry.Sregs.Gdt = BootSegments.WriteLinuxBootGdt(memory, GdtAddress, entry.Sregs.Cs);
            entry.Sregs.Cr0 = 0x11; // PE, and ET, which the CPU keeps set
            entry.Sregs.Cr3 = 0;
            entry.Sregs.Cr4 = 0;
            entry.Sregs.Efer = 0;
        }
        entry.Sregs.Ds = entry.Sregs.Es = entry.Sregs.Fs = entry.Sregs.Gs = entry.Sregs.Ss = BootSegments.LinuxBootData();
        entry.Sregs.Idt = new() { Base = 0, Limit = 0 };
        entry.Regs = new() { Rsi = BootParamsAddress, Rsp = StackTop, Rip = entryPoint, Rflags = 0x2 };
        return new LoadedImage(BootImageFormat.LinuxBzImage, entryPoint, load, kernelEnd, initrdAddress, (ulong)initrd.Length);
    }

    private static ulong AlignUp(ulong value, ulong alignment) => alignment <= 1 ? value : (value + alignment - 1) / alignment * alignment;
}
