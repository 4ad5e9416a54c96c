using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Puts an initial ramdisk as high in RAM below 4 GiB as the kernel allows, page aligned, as
/// Firecracker, cloud-hypervisor and QEMU do: the kernel grows upward from where it runs
/// (decompression, then its first allocations), so the top of low RAM is the place it leaves alone.
/// </summary>
internal static class InitrdPlacement
{
    /// <summary>
    /// Copies <paramref name="initrd"/> to the highest page below <paramref name="limit"/> (exclusive)
    /// and RAM's end, not below <paramref name="kernelEnd"/>; returns its address.
    /// </summary>
    internal static ulong Place(GuestMemory memory, string source, ReadOnlySpan<byte> initrd, ulong kernelEnd, ulong limit, string limitName)
    {
        ulong ramEnd = PcMemoryMap.LowRamEnd(memory);
        ulong top = Math.Min(ramEnd, limit);
        ulong size = (ulong)initrd.Length;
        ulong floor = (kernelEnd + GuestMemory.PageSize - 1) & ~(GuestMemory.PageSize - 1);
        ulong address = size > top ? 0 : (top - size) & ~(GuestMemory.PageSize - 1);
        if (size > top || address < floor)
        {
            string bound = top < ramEnd ? $"{top:x} ({limitName})" : $"the end of RAM below 4 GiB at {top:x} (give more with --mem)";
            throw new GuestImageException($"{source}: the initrd of {size} bytes does not fit between the kernel's end at {kernelEnd:x} and {bound}");
        }
        memory.Write(address, initrd);
        return address;
    }
}
