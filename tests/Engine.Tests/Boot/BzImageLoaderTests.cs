using System.Buffers.Binary;
using System.Text;
using VmReplay.Engine.Boot;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>The Linux 64-bit (and 32-bit) boot protocol on synthetic bzImages, without KVM: placement, zero page, entry state, errors.</summary>
public sealed class BzImageLoaderTests : IDisposable
{
    private const ulong ZeroPage = 0x7000, Cmdline = 0x20000;
    private readonly GuestMemory _memory = GuestMemory.CreatePcLayout(16UL << 20);
    private readonly VcpuState _entry = new();

    public void Dispose() => _memory.Dispose();

    private LoadedImage Load(SyntheticBzImage image, string cmdline = "", byte[]? initrd = null) =>
        GuestLoader.Load(_memory, _entry, image.Build(), "vmlinuz", cmdline, initrd);

    private byte[] ZeroPageBytes()
    {
        var page = new byte[0x1000];
        _memory.Read(ZeroPage, page);
        return page;
    }

    private GuestImageException LoadFails(SyntheticBzImage image, string cmdline = "", byte[]? initrd = null, GuestMemory? memory = null) =>
        Assert.Throws<GuestImageException>(() => GuestLoader.Load(memory ?? _memory, _entry, image.Build(), "vmlinuz", cmdline, initrd));

    [Fact]
    public void IsDetectedByItsHeaderThoughItAlsoEndsItsFirstSectorWith55AA()
    {
        var image = new SyntheticBzImage().Build();
        Assert.Equal(0x55, image[510]);
        Assert.Equal(0xAA, image[511]);
        Assert.Equal(BootImageFormat.LinuxBzImage, GuestImageDetector.Detect(image, "vmlinuz"));
    }

    [Fact]
    public void TheProtectedModeKernelLoadsAtPrefAddressAndIsEnteredAt0x200()
    {
        var image = new SyntheticBzImage();
        var loaded = Load(image);
        Assert.Equal(BootImageFormat.LinuxBzImage, loaded.Format);
        Assert.Equal(0x200000UL, loaded.LowestAddress);
        Assert.Equal(0x200200UL, loaded.Entry);
        Assert.Equal(0x300000UL, loaded.HighestAddress); // pref_address + init_size
        var placed = new byte[image.ProtectedMode.Length];
        _memory.Read(0x200000, placed);
        Assert.Equal(image.ProtectedMode, placed);
        Assert.Equal(0UL, _memory.ReadUInt64(0x100000)); // nothing at 1 MiB
    }

    [Fact]
    public void APrefAddressBelow1MiBLoadsAt1MiBAndTheKernelRunsAtTheNextAlignedAddress()
    {
        var loaded = Load(new SyntheticBzImage { PrefAddress = 0 });
        Assert.Equal(0x100000UL, loaded.LowestAddress);
        Assert.Equal(0x100200UL, loaded.Entry);
        Assert.Equal(0x200000UL + 0x100000, loaded.HighestAddress); // decompressed at 2 MiB (kernel_alignment), init_size from there
        Assert.Equal(0x100200UL, _entry.Regs.Rip);
        Assert.Equal(0x100000u, BinaryPrimitives.ReadUInt32LittleEndian(ZeroPageBytes().AsSpan(0x214))); // code32_start
    }

    [Fact]
    public void TheZeroPageHoldsTheKernelsSetupHeaderWithTheLoadersFieldsFilledIn()
    {
        var image = new SyntheticBzImage();
        var bytes = image.Build();
        Load(image, "console=ttyS0");
        var page = ZeroPageBytes();
        int end = 0x202 + image.JumpDisplacement;
        int[] filled = [0x210, .. Enumerable.Range(0x214, 12), .. Enumerable.Range(0x228, 4)]; // type_of_loader, code32_start, ramdisk, cmd_line_ptr
        for (int o = 0x1F1; o < end; o++)
            if (!filled.Contains(o)) Assert.True(bytes[o] == page[o], $"zero page byte {o:x} is {page[o]:x2}, the kernel's header has {bytes[o]:x2}");
        Assert.Equal("HdrS", Encoding.ASCII.GetString(page, 0x202, 4));
        Assert.Equal(0xABCDu, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x268))); // the header's last field, kernel_info_offset
        Assert.All(page[end..0x2D0], b => Assert.Equal(0, b));                              // from the header's end to the e820 table
        Assert.Equal(0xFF, page[0x210]);                                                     // type_of_loader: undefined
        Assert.Equal(0x200000u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x214))); // code32_start = load address
        Assert.Equal((uint)Cmdline, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x228)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0xC8)));         // ext_cmd_line_ptr
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x218)));        // no initrd
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x21C)));
        var cmd = new byte[14];
        _memory.Read(Cmdline, cmd);
        Assert.Equal("console=ttyS0\0", Encoding.ASCII.GetString(cmd));
    }

    [Fact]
    public void TheZeroPageIsZeroOutsideTheHeaderAndTheE820Table()
    {
        Load(new SyntheticBzImage());
        var page = ZeroPageBytes();
        var map = PcMemoryMap.Build(_memory);
        for (int o = 0; o < 0x1F1; o++)
            if (o != 0x1E8) Assert.True(page[o] == 0, $"byte {o:x} of the zero page is {page[o]:x2}");
        Assert.All(page[(0x2D0 + map.Count * 20)..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void TheE820TableIsThePcMemoryMap()
    {
        Load(new SyntheticBzImage());
        var page = ZeroPageBytes();
        MemoryMapEntry[] expected =
        [
            new(0, 0x9FC00, MemoryMapType.Usable),
            new(0x9FC00, 0x400, MemoryMapType.Reserved),
            new(0xF0000, 0x10000, MemoryMapType.Reserved),
            new(0x100000, (16UL << 20) - 0x100000, MemoryMapType.Usable),
        ];
        Assert.Equal(expected.Length, page[0x1E8]);
        for (int i = 0; i < expected.Length; i++)
        {
            var e = page.AsSpan(0x2D0 + i * 20);
            Assert.Equal(expected[i], new MemoryMapEntry(
                BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                (MemoryMapType)BinaryPrimitives.ReadUInt32LittleEndian(e[16..])));
        }
    }

    [Fact]
    public void TheInitrdGoesPageAlignedAtTheTopOfRam()
    {
        var initrd = Enumerable.Range(0, 10000).Select(i => (byte)(i * 13)).ToArray();
        var loaded = Load(new SyntheticBzImage(), initrd: initrd);
        ulong expected = ((16UL << 20) - 10000) & ~0xFFFUL;
        Assert.Equal(expected, loaded.InitrdAddress);
        Assert.Equal(10000UL, loaded.InitrdSize);
        var page = ZeroPageBytes();
        Assert.Equal((uint)expected, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x218))); // ramdisk_image
        Assert.Equal(10000u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0x21C)));         // ramdisk_size
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0xC0)));              // ext_ramdisk_image
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0xC4)));              // ext_ramdisk_size
        var placed = new byte[initrd.Length];
        _memory.Read(expected, placed);
        Assert.Equal(initrd, placed);
    }

    [Fact]
    public void TheInitrdStaysBelowInitrdAddrMax()
    {
        var loaded = Load(new SyntheticBzImage { InitrdAddrMax = 0xBF_FFFF }, initrd: new byte[0x1800]);
        Assert.Equal(0xC0_0000UL - 0x2000, loaded.InitrdAddress);
    }

    [Fact]
    public void TheEntryStateIsTheProtocols64BitEntry()
    {
        Load(new SyntheticBzImage());
        var r = _entry.Regs;
        var s = _entry.Sregs;
        Assert.Equal(0x200200UL, r.Rip);
        Assert.Equal(ZeroPage, r.Rsi);
        Assert.Equal(0x2UL, r.Rflags); // IF clear
        Assert.Equal(0UL, r.Rax | r.Rbx | r.Rcx | r.Rdx | r.Rdi | r.Rbp);
        Assert.Equal(0x8000_0031UL, s.Cr0); // PG | NE | ET | PE
        Assert.Equal(0x20UL, s.Cr4);        // PAE
        Assert.Equal(0x500UL, s.Efer);      // LME | LMA
        Assert.Equal(0x1000UL, s.Cr3);

        Assert.Equal(0x10, s.Cs.Selector); // __BOOT_CS
        Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)0xB, (byte)1, (byte)1, (byte)0, (byte)1, (byte)0), (s.Cs.Base, s.Cs.Limit, s.Cs.Type, s.Cs.S, s.Cs.Present, s.Cs.Dpl, s.Cs.L, s.Cs.Db));
        foreach (var seg in new[] { s.Ds, s.Es, s.Ss })
        {
            Assert.Equal(0x18, seg.Selector); // __BOOT_DS
            Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)0x3, (byte)1, (byte)1, (byte)1, (byte)1), (seg.Base, seg.Limit, seg.Type, seg.S, seg.Present, seg.Db, seg.G));
        }
    }

    [Fact]
    public void TheGdtHoldsBootCsAndBootDsAsTheSegmentRegistersDescribeThem()
    {
        Load(new SyntheticBzImage());
        var gdt = _entry.Sregs.Gdt;
        Assert.Equal(0x500UL, gdt.Base);
        Assert.Equal(4 * 8 - 1, gdt.Limit);
        Assert.Equal(0UL, _memory.ReadUInt64(0x500));
        Assert.Equal(0x00AF_9B00_0000_FFFFUL, _memory.ReadUInt64(0x500 + 0x10)); // code: G, L, P, S, type B, limit FFFFF
        Assert.Equal(0x00CF_9300_0000_FFFFUL, _memory.ReadUInt64(0x500 + 0x18)); // data: G, D/B, P, S, type 3
    }

    [Fact]
    public void TheFirst4GiBAreIdentityMappedWith2MiBPages()
    {
        Load(new SyntheticBzImage());
        var walk = PageWalker.Translate(_memory, _entry.Paging, 0xBFE0_1234, PageAccess.Read);
        Assert.True(walk.IsValid);
        Assert.Equal(0xBFE0_1234UL, walk.PhysicalAddress);
        Assert.Equal(0x200000UL, PageWalker.Translate(_memory, _entry.Paging, 0x20_0000, PageAccess.Read).PhysicalAddress);
    }

    [Fact]
    public void AProtocolBefore212IsRefused() =>
        Assert.Equal("vmlinuz: Linux boot protocol 2.11 is too old; vmreplay needs 2.12 or later (Linux 3.8+) to find the 64-bit entry point",
            LoadFails(new SyntheticBzImage { Version = 0x020B }).Message);

    [Fact]
    public void AZImageIsRefused() =>
        Assert.Equal("vmlinuz: a zImage (loadflags LOADED_HIGH clear) is loaded at 64 KiB in real mode; vmreplay boots bzImages",
            LoadFails(new SyntheticBzImage { LoadFlags = 0 }).Message);

    [Fact]
    public void AKernelWithoutA64BitEntryIsEnteredThroughThe32BitProtocol()
    {
        var loaded = Load(new SyntheticBzImage { XLoadFlags = 0x04 });   // XLF_EFI_HANDOVER_32 only, as memtest86+'s ia32 image
        Assert.Equal(0x200000UL, loaded.Entry);                         // the start of the protected-mode kernel
        Assert.Equal((0x200000UL, ZeroPage), (_entry.Regs.Rip, _entry.Regs.Rsi));
        Assert.Equal((0x11UL, 0UL, 0UL), (_entry.Sregs.Cr0, _entry.Sregs.Cr4, _entry.Sregs.Efer));
        Assert.Equal(((ushort)0x10, (byte)1, (byte)0), (_entry.Sregs.Cs.Selector, _entry.Sregs.Cs.Db, _entry.Sregs.Cs.L));
        Assert.Equal((ushort)0x18, _entry.Sregs.Ds.Selector);
        // The GDT holds __BOOT_CS as the flat 32-bit code segment the CS register caches.
        Assert.Equal(BootSegments.Encode(_entry.Sregs.Cs), _memory.ReadUInt64(_entry.Sregs.Gdt.Base + 0x10));
    }

    [Fact]
    public void The32BitEntryRunsOnTheSoftwareCpuAndReadsTheZeroPageThroughEsi()
    {
        // mov eax, [esi+0x202]; out 0x80, eax; hlt: the same bytes as the 64-bit entry's code, at offset 0.
        var code = new byte[0x400];
        byte[] entry32 = [0x8B, 0x86, 0x02, 0x02, 0x00, 0x00, 0xE7, 0x80, 0xF4];
        entry32.CopyTo(code, 0);
        Load(new SyntheticBzImage { XLoadFlags = 0, ProtectedMode = code });
        var cpu = new VmReplay.Engine.SoftCpu.Processor(_memory, VmReplay.Engine.SoftCpu.SoftCpuModel.Build());
        cpu.LoadState(_entry);

        Assert.Equal(VmReplay.Engine.SoftCpu.ProcessorExitKind.PortOut, cpu.Run(100));
        Assert.Equal("HdrS"u8.ToArray(), cpu.Exit.Data.AsSpan(0, 4).ToArray());
    }

    [Fact]
    public void AKernelThatDoesNotFitInRamIsRefused()
    {
        using var small = GuestMemory.CreatePcLayout(2UL << 20);
        Assert.Equal("vmlinuz: the kernel needs RAM up to 300000 (loaded at 200000, init_size 100000 from 200000), but guest RAM below 4 GiB ends at 200000 (give more with --mem)",
            LoadFails(new SyntheticBzImage(), memory: small).Message);
    }

    [Fact]
    public void ACommandLineLongerThanCmdlineSizeIsRefused()
    {
        Load(new SyntheticBzImage { CmdlineSize = 10 }, "0123456789"); // exactly cmdline_size is fine
        Assert.Equal("vmlinuz: the command line of 11 bytes is longer than the kernel's cmdline_size of 10",
            LoadFails(new SyntheticBzImage { CmdlineSize = 10 }, "0123456789A").Message);
    }

    [Fact]
    public void AFileThatEndsInTheSetupSectorsIsRefused()
    {
        var image = new SyntheticBzImage().Build()[..0x800];
        Assert.Equal("vmlinuz: the file ends at 800, before the protected-mode kernel at a00 (4 setup sectors)",
            Assert.Throws<GuestImageException>(() => GuestLoader.Load(_memory, _entry, image, "vmlinuz", "", default)).Message);
    }

    [Fact]
    public void AHeaderCutShortIsRefused()
    {
        var image = new SyntheticBzImage().Build()[..0x240];
        Assert.Equal("vmlinuz: the setup header of boot protocol 2.15 is cut short at 576 bytes",
            Assert.Throws<GuestImageException>(() => GuestImageCheck(image)).Message);
    }

    [Fact]
    public void APrefAddressAbove4GiBIsRefused() =>
        Assert.Equal("vmlinuz: the kernel's pref_address 100000000 is above 4 GiB; vmreplay loads kernels below it",
            LoadFails(new SyntheticBzImage { PrefAddress = 1UL << 32 }).Message);

    [Fact]
    public void AnInitrdThatDoesNotFitAboveTheKernelIsRefused()
    {
        using var small = GuestMemory.CreatePcLayout(4UL << 20);
        Assert.Equal("vmlinuz: the initrd of 1048577 bytes does not fit between the kernel's end at 300000 and the end of RAM below 4 GiB at 400000 (give more with --mem)",
            LoadFails(new SyntheticBzImage(), initrd: new byte[(1 << 20) + 1], memory: small).Message);
    }

    [Fact]
    public void AnInitrdAddrMaxBelowTheKernelsEndIsRefused() =>
        Assert.Equal("vmlinuz: the initrd of 4096 bytes does not fit between the kernel's end at 300000 and 200000 (the kernel's initrd_addr_max)",
            LoadFails(new SyntheticBzImage { InitrdAddrMax = 0x1F_FFFF }, initrd: new byte[4096]).Message);

    [Fact]
    public void HeaderErrorsAreFoundBeforeAnyVmExists() =>
        Assert.Contains("too old", Assert.Throws<GuestImageException>(() => GuestImageCheck(new SyntheticBzImage { Version = 0x0204 }.Build())).Message);

    private static void GuestImageCheck(byte[] image) => GuestLoader.CheckBootable(image, "vmlinuz");
}
