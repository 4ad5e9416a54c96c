using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>Copies image bytes into guest RAM with the checks every loader needs.</summary>
internal static class ImagePlacement
{
    /// <summary>Places every PT_LOAD segment at its physical address; returns the range they cover.</summary>
    internal static (ulong Low, ulong High) PlaceSegments(GuestMemory memory, string source, ReadOnlySpan<byte> image, ElfImage elf)
    {
        ulong low = ulong.MaxValue, high = 0;
        foreach (var seg in elf.LoadSegments)
        {
            Place(memory, source, seg.PhysicalAddress, image.Slice((int)seg.Offset, (int)seg.FileSize), seg.MemorySize);
            low = Math.Min(low, seg.PhysicalAddress);
            high = Math.Max(high, seg.PhysicalAddress + seg.MemorySize);
        }
        return (low, high);
    }

    /// <summary>Copies <paramref name="fileBytes"/> to <paramref name="address"/> and zeroes up to <paramref name="memorySize"/>.</summary>
    internal static void Place(GuestMemory memory, string source, ulong address, ReadOnlySpan<byte> fileBytes, ulong memorySize)
    {
        if (memorySize == 0) return;
        if (!memory.IsRam(address, memorySize))
        {
            ulong ramEnd = memory.Regions.Count == 0 ? 0 : memory.Regions[0].GuestEnd;
            throw new GuestImageException(
                $"{source}: the image needs guest memory at {address:x}-{address + memorySize - 1:x}, but guest RAM ends at {ramEnd:x} (give more with --mem)");
        }
        if (address < 0x500)
            throw new GuestImageException($"{source}: the image loads at {address:x}, over the real-mode interrupt table and BIOS data area");
        memory.Write(address, fileBytes);
        ulong zero = memorySize - (ulong)fileBytes.Length;
        if (zero > 0)
        {
            var zeros = new byte[Math.Min(zero, 1UL << 20)];
            for (ulong done = 0; done < zero; done += (ulong)zeros.Length)
                memory.Write(address + (ulong)fileBytes.Length + done, zeros.AsSpan(0, (int)Math.Min((ulong)zeros.Length, zero - done)));
        }
    }
}
