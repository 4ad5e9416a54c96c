using VmReplay.Engine.Boot;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// Multiboot kernels in ELF form as GRUB loads them, without KVM: an ELF64 with a Multiboot
/// header is one (entered in 32-bit protected mode, not long mode), and a higher-half kernel's
/// virtual e_entry is entered at its physical address.
/// </summary>
public sealed class MultibootElfLoaderTests : IDisposable
{
    private readonly GuestMemory _memory = GuestMemory.CreatePcLayout(16UL << 20);
    private readonly VcpuState _entry = new();

    public void Dispose() => _memory.Dispose();

    private LoadedImage Load(SyntheticMultibootElf elf) => GuestLoader.Load(_memory, _entry, elf.Build(), "kernel", "", default);

    private string LoadFails(SyntheticMultibootElf elf) =>
        Assert.Throws<GuestImageException>(() => GuestLoader.Load(_memory, _entry, elf.Build(), "kernel", "", default)).Message;

    [Fact]
    public void AnElf64WithAMultibootHeaderIsAMultibootKernel()
    {
        Assert.Equal(BootImageFormat.Multiboot, GuestImageDetector.Detect(new SyntheticMultibootElf().Build(), "kernel"));
        Assert.Equal(BootImageFormat.Elf64, GuestImageDetector.Detect(new SyntheticPvhElf { PvhEntry = null }.Build(), "kernel"));
    }

    [Theory]
    [InlineData(true, 0xFFFF_FFFF_8010_0000UL)]   // x86-64, -mcmodel=kernel
    [InlineData(false, 0xC010_0000UL)]             // i386, 3 GiB split
    [InlineData(true, 0x100000UL)]                 // identity-linked
    public void AHigherHalfKernelIsEnteredIn32BitModeAtThePhysicalAddressOfItsEntry(bool is64, ulong virtualAddress)
    {
        var elf = new SyntheticMultibootElf
        {
            Is64 = is64, Machine = is64 ? ElfImage.MachineX86_64 : ElfImage.MachineI386, VirtualAddress = virtualAddress,
        };
        var loaded = Load(elf);

        ulong entry = 0x100000 + SyntheticMultibootElf.HeaderSize;
        Assert.Equal((BootImageFormat.Multiboot, entry), (loaded.Format, loaded.Entry));
        Assert.Equal(entry, _entry.Regs.Rip);
        Assert.Equal(MultibootInfoWriter.BootloaderMagic, _entry.Regs.Rax);
        Assert.Equal((0x11UL, 0UL, 0UL), (_entry.Sregs.Cr0, _entry.Sregs.Cr4, _entry.Sregs.Efer));
        Assert.Equal((1, 0), (_entry.Sregs.Cs.Db, _entry.Sregs.Cs.L));
        var code = new byte[elf.Code.Length];
        _memory.Read(entry, code);
        Assert.Equal(elf.Code, code);
    }

    [Fact]
    public void TheElf64EntryStubRunsAs32BitCodeOnTheSoftwareCpu()
    {
        Load(new SyntheticMultibootElf());
        var cpu = new Processor(_memory, SoftCpuModel.Build());
        cpu.LoadState(_entry);

        Assert.Equal(ProcessorExitKind.PortOut, cpu.Run(100));
        Assert.Equal((0x80UL, 4), (cpu.Exit.Address, cpu.Exit.Size));
        Assert.Equal(0xFFFF_FFFFu, BitConverter.ToUInt32(cpu.Exit.Data));   // DEC EAX ran: 32-bit code
    }

    [Fact]
    public void TheKernelCanCallBeforeSettingUpAStack()
    {
        // call next; next: pop eax; out 0x80, eax; hlt: the return address comes back through the stack.
        var elf = new SyntheticMultibootElf { Code = [0xE8, 0, 0, 0, 0, 0x58, 0xE7, 0x80, 0xF4] };
        Load(elf);
        Assert.InRange(_entry.Regs.Rsp, 0x10000UL, PcMemoryMap.ConventionalEnd);
        var cpu = new Processor(_memory, SoftCpuModel.Build());
        cpu.LoadState(_entry);

        Assert.Equal(ProcessorExitKind.PortOut, cpu.Run(100));
        Assert.Equal(0x100000u + SyntheticMultibootElf.HeaderSize + 5, BitConverter.ToUInt32(cpu.Exit.Data));
    }

    [Fact]
    public void AnEntryNoSegmentHoldsIsTakenAsItIs()
    {
        // A higher-half ELF32 whose e_entry is already physical, as kernels written for QEMU's -kernel have it.
        var loaded = Load(new SyntheticMultibootElf { Is64 = false, Machine = ElfImage.MachineI386, VirtualAddress = 0xC010_0000, Entry = 0x10000C });
        Assert.Equal(0x10000CUL, loaded.Entry);
    }

    [Fact]
    public void AnElf64SegmentAbove4GiBIsRefused() =>
        Assert.Equal("kernel: a Multiboot segment at physical 100000000 lies above 4 GiB",
            LoadFails(new SyntheticMultibootElf { PhysicalAddress = 0x1_0000_0000 }));

    [Fact]
    public void AnElfForAnotherMachineIsRefused() =>
        Assert.Equal("kernel: a Multiboot ELF must be ELF32 for i386 or ELF64 for x86-64 (machine 3)",
            LoadFails(new SyntheticMultibootElf { Machine = ElfImage.MachineI386 }));
}
