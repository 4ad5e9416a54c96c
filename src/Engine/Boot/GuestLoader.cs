using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>Detects a guest image's format and loads it into a VM, setting up vCPU 0 to enter it.</summary>
public static class GuestLoader
{
    /// <summary>
    /// Loads <paramref name="image"/> (and <paramref name="initrd"/>, for a Linux kernel; empty is none).
    /// Throws <see cref="GuestImageException"/> with a one-line reason for an image that cannot boot.
    /// </summary>
    public static LoadedImage Load(IMachineBackend vm, ReadOnlySpan<byte> image, string source, string cmdline = "", ReadOnlySpan<byte> initrd = default)
    {
        var vcpu = vm.Vcpus[0];
        var entry = vcpu.CaptureState();
        var loaded = Load(vm.Memory, entry, image, source, cmdline, initrd);
        vcpu.RestoreState(entry);
        return loaded;
    }

    /// <summary>
    /// Places the image in <paramref name="memory"/> and sets <paramref name="entry"/> to the state
    /// the guest starts in; nothing here depends on the backend.
    /// </summary>
    internal static LoadedImage Load(GuestMemory memory, VcpuState entry, ReadOnlySpan<byte> image, string source, string cmdline, ReadOnlySpan<byte> initrd)
    {
        var format = CheckBootable(image, source, initrd);
        BiosDataArea.Write(memory);
        return format switch
        {
            BootImageFormat.Multiboot => MultibootLoader.Load(memory, entry, image, source, cmdline),
            BootImageFormat.Elf64 => Elf64LongModeLoader.Load(memory, entry, image, source, cmdline),
            BootImageFormat.LinuxBzImage => BzImageLoader.Load(memory, entry, image, source, cmdline, initrd),
            BootImageFormat.LinuxPvh => PvhLoader.Load(memory, entry, image, source, cmdline, initrd),
            _ => BootSectorLoader.Load(memory, entry, image, source),
        };
    }

    /// <summary>
    /// Detects the format and checks what can be checked before a VM exists: an initrd only
    /// goes with a Linux kernel, and a bzImage's setup header must be one vmreplay boots.
    /// </summary>
    public static BootImageFormat CheckBootable(ReadOnlySpan<byte> image, string source, ReadOnlySpan<byte> initrd = default)
    {
        var format = GuestImageDetector.Detect(image, source);
        if (!initrd.IsEmpty && format is not (BootImageFormat.LinuxBzImage or BootImageFormat.LinuxPvh))
            throw new GuestImageException($"{source}: --initrd is for Linux kernels (a bzImage or a PVH vmlinux), and this is {Describe(format)}");
        if (format == BootImageFormat.LinuxBzImage) LinuxSetupHeader.Parse(image, source);
        return format;
    }

    private static string Describe(BootImageFormat format) => format switch
    {
        BootImageFormat.Multiboot => "a Multiboot kernel",
        BootImageFormat.Elf64 => "an ELF64 without a PVH entry note",
        _ => "a boot sector",
    };
}
