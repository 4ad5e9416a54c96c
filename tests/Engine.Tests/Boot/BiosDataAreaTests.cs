using VmReplay.Engine.Boot;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// Every loader leaves the BIOS data area's EBDA segment (0x40E) and base memory size (0x413)
/// describing the EBDA at 639 KiB that the memory map reserves: kernels read them with no BIOS
/// (Xen placed its trampoline below 4 GiB's end when they were zero).
/// </summary>
public sealed class BiosDataAreaTests
{
    public static TheoryData<string> Images => ["boot sector", "Multiboot ELF64", "bzImage", "PVH vmlinux"];

    private static byte[] Image(string kind) => kind switch
    {
        "boot sector" => BootSector(),
        "Multiboot ELF64" => new SyntheticMultibootElf().Build(),
        "bzImage" => new SyntheticBzImage().Build(),
        _ => new SyntheticPvhElf().Build(),
    };

    private static byte[] BootSector()
    {
        var sector = new byte[512];
        sector[0] = 0xF4;   // hlt
        sector[510] = 0x55;
        sector[511] = 0xAA;
        return sector;
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void TheEbdaSegmentAndBaseMemorySizeDescribeTheReservedEbda(string kind)
    {
        using var memory = GuestMemory.CreatePcLayout(16UL << 20);
        GuestLoader.Load(memory, new VcpuState(), Image(kind), "guest", "", default);

        Assert.Equal(0x9FC0, memory.ReadUInt16(0x40E));
        Assert.Equal(639, memory.ReadUInt16(0x413));
        Assert.Equal(PcMemoryMap.ConventionalEnd, (ulong)memory.ReadUInt16(0x40E) << 4);
    }
}
