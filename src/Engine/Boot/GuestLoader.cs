using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Boot;

/// <summary>Detects a guest image's format and loads it into a VM, setting up vCPU 0 to enter it.</summary>
public static class GuestLoader
{
    /// <summary>Throws <see cref="GuestImageException"/> with a one-line reason for an image that cannot boot.</summary>
    public static LoadedImage Load(VirtualMachine vm, ReadOnlySpan<byte> image, string source, string cmdline = "")
    {
        var vcpu = vm.Vcpus[0];
        return GuestImageDetector.Detect(image, source) switch
        {
            BootImageFormat.Multiboot => MultibootLoader.Load(vm.Memory, vcpu, image, source, cmdline),
            BootImageFormat.Elf64 => Elf64LongModeLoader.Load(vm.Memory, vcpu, image, source, cmdline),
            _ => BootSectorLoader.Load(vm.Memory, vcpu, image, source),
        };
    }
}
