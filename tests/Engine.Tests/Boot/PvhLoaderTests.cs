using System.Buffers.Binary;
using System.Text;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>The PVH boot protocol on synthetic ELF kernels, without KVM: the note, hvm_start_info, entry state, errors.</summary>
public sealed class PvhLoaderTests : IDisposable
{
    private const ulong StartInfo = 0x6000, Modlist = 0x6040, Memmap = 0x7000, Cmdline = 0x20000;
    private readonly GuestMemory _memory = GuestMemory.CreatePcLayout(16UL << 20);
    private readonly VcpuState _entry = new();

    public void Dispose() => _memory.Dispose();

    private LoadedImage Load(SyntheticPvhElf elf, string cmdline = "", byte[]? initrd = null) =>
        GuestLoader.Load(_memory, _entry, elf.Build(), "vmlinux", cmdline, initrd);

    private string LoadFails(SyntheticPvhElf elf, string cmdline = "", byte[]? initrd = null) =>
        Assert.Throws<GuestImageException>(() => GuestLoader.Load(_memory, _entry, elf.Build(), "vmlinux", cmdline, initrd)).Message;

    private byte[] Read(ulong address, int length)
    {
        var b = new byte[length];
        _memory.Read(address, b);
        return b;
    }

    [Theory]
    [InlineData(true, 8, 4)]   // x86-64 vmlinux: .quad descriptor
    [InlineData(true, 4, 4)]
    [InlineData(true, 8, 8)]   // notes padded to 8
    [InlineData(false, 4, 4)]  // i386 vmlinux: .long descriptor
    public void AnElfWithThePvhNoteIsALinuxPvhKernel(bool is64, int descSize, int align)
    {
        var elf = new SyntheticPvhElf { Is64 = is64, Machine = is64 ? (ushort)62 : (ushort)3, EntryDescSize = descSize, NoteAlign = align, PvhEntry = 0x100040 };
        var image = elf.Build();
        Assert.Equal(BootImageFormat.LinuxPvh, GuestImageDetector.Detect(image, "vmlinux"));
        Assert.Equal(0x100040u, PvhEntryNote.Find(image, ElfImage.Parse(image, "vmlinux")));
    }

    [Fact]
    public void AnElf64WithoutTheNoteIsStillAnElf64()
    {
        var image = new SyntheticPvhElf { PvhEntry = null }.Build();
        Assert.Equal(BootImageFormat.Elf64, GuestImageDetector.Detect(image, "vmlinux"));
        Assert.Null(PvhEntryNote.Find(image, ElfImage.Parse(image, "vmlinux")));
    }

    [Fact]
    public void SegmentsLoadAtTheirPhysicalAddressesAndTheNotesEntryIsEntered()
    {
        var elf = new SyntheticPvhElf();
        var loaded = Load(elf);
        Assert.Equal(BootImageFormat.LinuxPvh, loaded.Format);
        Assert.Equal(0x100000UL, loaded.Entry);
        Assert.Equal((0x100000UL, 0x102000UL), (loaded.LowestAddress, loaded.HighestAddress));
        Assert.Equal(elf.Code, Read(0x100000, elf.Code.Length));
        Assert.All(Read(0x100000 + (ulong)elf.Code.Length, 0x2000 - elf.Code.Length), b => Assert.Equal(0, b)); // bss zeroed
    }

    [Fact]
    public void HvmStartInfoIsVersion1WithMemoryMapAndCommandLine()
    {
        Load(new SyntheticPvhElf(), "console=ttyS0");
        byte[] expected =
        [
            0x78, 0xC5, 0x6E, 0x33,  1, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0,    // magic, version, flags, nr_modules
            0, 0, 0, 0, 0, 0, 0, 0,                                           // modlist_paddr
            0x00, 0x00, 0x02, 0, 0, 0, 0, 0,                                  // cmdline_paddr 0x20000
            0, 0, 0, 0, 0, 0, 0, 0,                                           // rsdp_paddr
            0x00, 0x70, 0, 0, 0, 0, 0, 0,                                     // memmap_paddr 0x7000
            4, 0, 0, 0,  0, 0, 0, 0,                                          // memmap_entries, reserved
        ];
        Assert.Equal(expected, Read(StartInfo, 56));
        Assert.Equal("console=ttyS0\0", Encoding.ASCII.GetString(Read(Cmdline, 14)));
    }

    [Fact]
    public void TheMemoryMapIsThePcMemoryMapAsHvmMemmapTableEntries()
    {
        Load(new SyntheticPvhElf());
        byte[] Entry(ulong addr, ulong size, uint type)
        {
            var e = new byte[24];
            BinaryPrimitives.WriteUInt64LittleEndian(e, addr);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(8), size);
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(16), type);
            return e;
        }
        byte[] expected =
        [
            .. Entry(0, 0x9FC00, 1),
            .. Entry(0x9FC00, 0x400, 2),
            .. Entry(0xF0000, 0x10000, 2),
            .. Entry(0x100000, (16UL << 20) - 0x100000, 1),
        ];
        Assert.Equal(expected, Read(Memmap, expected.Length));
    }

    [Fact]
    public void AnInitrdIsTheOneModuleAtTheTopOfRam()
    {
        var initrd = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        var loaded = Load(new SyntheticPvhElf(), initrd: initrd);
        ulong at = ((16UL << 20) - 5000) & ~0xFFFUL;
        Assert.Equal((at, 5000UL), (loaded.InitrdAddress, loaded.InitrdSize));
        Assert.Equal(1u, _memory.ReadUInt32(StartInfo + 12));     // nr_modules
        Assert.Equal(Modlist, _memory.ReadUInt64(StartInfo + 16)); // modlist_paddr
        var entry = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(entry, at);
        BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(8), 5000);
        Assert.Equal(entry, Read(Modlist, 32)); // paddr, size; no command line, reserved 0
        Assert.Equal(initrd, Read(at, initrd.Length));
    }

    [Fact]
    public void TheEntryStateIs32BitProtectedModeWithPagingOff()
    {
        Load(new SyntheticPvhElf());
        var r = _entry.Regs;
        var s = _entry.Sregs;
        Assert.Equal(StartInfo, r.Rbx);
        Assert.Equal(0x100000UL, r.Rip);
        Assert.Equal(0x2UL, r.Rflags); // IF, TF, VM clear
        Assert.Equal(0x11UL, s.Cr0);   // PE (and ET, fixed at 1)
        Assert.Equal(0UL, s.Cr4);
        Assert.Equal(0UL, s.Efer);
        Assert.Equal(0UL, s.Cr3);

        Assert.Equal(0x08, s.Cs.Selector);
        Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)0xB, (byte)1, (byte)1, (byte)1, (byte)0, (byte)1), (s.Cs.Base, s.Cs.Limit, s.Cs.Type, s.Cs.S, s.Cs.Present, s.Cs.Db, s.Cs.L, s.Cs.G));
        foreach (var seg in new[] { s.Ds, s.Es, s.Ss })
        {
            Assert.Equal(0x10, seg.Selector);
            Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)0x3, (byte)1, (byte)1, (byte)1), (seg.Base, seg.Limit, seg.Type, seg.S, seg.Present, seg.Db));
        }
        Assert.Equal((0UL, 0x67u, (byte)0xB, (byte)1, (byte)0), (s.Tr.Base, s.Tr.Limit, s.Tr.Type, s.Tr.Present, s.Tr.S)); // a busy 32-bit TSS
        Assert.Equal(0x500UL, s.Gdt.Base);
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, _memory.ReadUInt64(0x500 + 0x08)); // the descriptors CS and DS were loaded from
        Assert.Equal(0x00CF_9300_0000_FFFFUL, _memory.ReadUInt64(0x500 + 0x10));
    }

    [Fact]
    public void AnEntryOutsideTheSegmentsIsRefused() =>
        Assert.Equal("vmlinux: the PVH entry point 200000 lies outside every loaded segment", LoadFails(new SyntheticPvhElf { PvhEntry = 0x200000 }));

    [Fact]
    public void TheWrongMachineIsRefused() =>
        Assert.Equal("vmlinux: ELF64 for machine 3, not x86-64", LoadFails(new SyntheticPvhElf { Machine = 3 }));

    [Fact]
    public void ACommandLineLongerThanLinuxReadsIsRefused()
    {
        Load(new SyntheticPvhElf(), new string('x', 2047));
        Assert.Equal("vmlinux: the command line of 2048 bytes is longer than the 2047 bytes x86 Linux reads (COMMAND_LINE_SIZE)",
            LoadFails(new SyntheticPvhElf(), new string('x', 2048)));
    }

    [Fact]
    public void ASegmentOverTheBootInformationIsRefused() =>
        Assert.Equal("vmlinux: a segment loads at 8000, over the boot information vmreplay puts below 20800",
            LoadFails(new SyntheticPvhElf { SegmentAddress = 0x8000, PvhEntry = 0x8000 }));

    [Fact]
    public void AnInitrdLargerThanTheRamAboveTheKernelIsRefused() =>
        Assert.Equal("vmlinux: the initrd of 15728640 bytes does not fit between the kernel's end at 102000 and the end of RAM below 4 GiB at 1000000 (give more with --mem)",
            LoadFails(new SyntheticPvhElf(), initrd: new byte[15 << 20]));
}
