using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using System.Buffers.Binary;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// Dispatch and the initrd rule without KVM, then both Linux entries on the real /dev/kvm: the
/// state a loader leaves must be one KVM accepts and the guest's first instructions can use.
/// </summary>
public sealed class GuestLoaderTests
{
    private static readonly byte[] Initrd = [1, 2, 3];

    private static string InitrdRefused(byte[] image) =>
        Assert.Throws<GuestImageException>(() => GuestLoader.CheckBootable(image, "guest", Initrd)).Message;

    [Fact]
    public void AnInitrdWithABootSectorIsRefused()
    {
        var sector = new byte[512];
        sector[510] = 0x55;
        sector[511] = 0xAA;
        Assert.Equal("guest: --initrd is for Linux kernels (a bzImage or a PVH vmlinux), and this is a boot sector", InitrdRefused(sector));
    }

    [Fact]
    public void AnInitrdWithAPlainElf64IsRefused() =>
        Assert.Equal("guest: --initrd is for Linux kernels (a bzImage or a PVH vmlinux), and this is an ELF64 without a PVH entry note",
            InitrdRefused(new SyntheticPvhElf { PvhEntry = null }.Build()));

    [Fact]
    public void AnInitrdWithAMultibootKernelIsRefused()
    {
        // An a.out-kludge Multiboot header at offset 0: loaded at 1 MiB, entered there.
        var image = new byte[512];
        uint flags = MultibootHeader.FlagAoutKludge;
        uint[] header = [MultibootHeader.Magic, flags, unchecked(0u - MultibootHeader.Magic - flags), 0x100000, 0x100000, 0, 0, 0x100000];
        for (int i = 0; i < header.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(i * 4), header[i]);
        Assert.Equal("guest: --initrd is for Linux kernels (a bzImage or a PVH vmlinux), and this is a Multiboot kernel", InitrdRefused(image));
    }

    [Fact]
    public void AnInitrdIsAcceptedWithBothLinuxFormats()
    {
        Assert.Equal(BootImageFormat.LinuxBzImage, GuestLoader.CheckBootable(new SyntheticBzImage().Build(), "guest", Initrd));
        Assert.Equal(BootImageFormat.LinuxPvh, GuestLoader.CheckBootable(new SyntheticPvhElf().Build(), "guest", Initrd));
    }

    [Fact]
    public void AnEmptyInitrdIsNone()
    {
        using var memory = GuestMemory.CreatePcLayout(16UL << 20);
        var loaded = GuestLoader.Load(memory, new VcpuState(), new SyntheticBzImage().Build(), "guest", "", []);
        Assert.Equal((0UL, 0UL), (loaded.InitrdAddress, loaded.InitrdSize));
    }

    [Fact]
    public void TheBzImageEntryRunsOnKvmAndReadsTheZeroPageThroughRsi()
    {
        KvmHost.Require();
        // mov eax, [rsi+0x202]; out 0x80, eax: "HdrS" from the setup header copied into the zero page.
        var exit = RunToFirstExit(new SyntheticBzImage().Build());
        Assert.Equal((KvmExitReason.Io, (ushort)0x80), (exit.Reason, exit.Port));
        Assert.Equal("HdrS"u8.ToArray(), exit.Data);
        Assert.Equal(0x10, exit.Sregs.Cs.Selector);
        Assert.Equal(1, exit.Sregs.Cs.L);
    }

    [Fact]
    public void ThePvhEntryRunsOnKvmAndReadsHvmStartInfoThroughEbx()
    {
        KvmHost.Require();
        // mov eax, [ebx]; out 0x80, eax: the hvm_start_info magic.
        var exit = RunToFirstExit(new SyntheticPvhElf().Build());
        Assert.Equal((KvmExitReason.Io, (ushort)0x80), (exit.Reason, exit.Port));
        Assert.Equal(0x336EC578u, BinaryPrimitives.ReadUInt32LittleEndian(exit.Data));
        Assert.Equal(0UL, exit.Sregs.Efer & 0x400);        // not in long mode
        Assert.Equal(0UL, exit.Sregs.Cr0 & 0x8000_0000);   // paging off
    }

    private sealed record FirstExit(KvmExitReason Reason, ushort Port, byte[] Data, SystemRegisters Sregs);

    private static FirstExit RunToFirstExit(byte[] image)
    {
        using var kvm = KvmSystem.Open();
        using var vm = KvmMachine.Create(kvm, new MachineBackendOptions { MemorySize = 16UL << 20 });
        GuestLoader.Load(vm, image, "guest", "console=ttyS0");
        var vcpu = vm.KvmVcpus[0];
        Assert.Equal(KvmVcpu.RunStatus.Exited, vcpu.Kvm.Run());
        var run = vcpu.Kvm.RunPage;
        return new FirstExit(run.ExitReason, run.IoPort, run.IoData.ToArray(), vcpu.Kvm.GetSregs());
    }
}
