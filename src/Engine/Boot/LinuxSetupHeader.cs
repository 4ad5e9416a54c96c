using System.Buffers.Binary;

namespace VmReplay.Engine.Boot;

/// <summary>
/// The setup header of a Linux bzImage (Documentation/arch/x86/boot.rst, "The real-mode kernel
/// header"; struct setup_header in arch/x86/include/uapi/asm/bootparam.h): the fields a 64-bit
/// boot loader reads. Offsets are file offsets, which are also the offsets in struct boot_params.
/// </summary>
public sealed record LinuxSetupHeader
{
    public const int SetupSectsOffset = 0x1F1;
    public const int BootFlagOffset = 0x1FE;
    public const int JumpOffset = 0x200;
    public const int SignatureOffset = 0x202;
    public const int VersionOffset = 0x206;
    public const int TypeOfLoaderOffset = 0x210;
    public const int LoadFlagsOffset = 0x211;
    public const int Code32StartOffset = 0x214;
    public const int RamdiskImageOffset = 0x218;
    public const int RamdiskSizeOffset = 0x21C;
    public const int CmdLinePtrOffset = 0x228;
    public const int InitrdAddrMaxOffset = 0x22C;
    public const int KernelAlignmentOffset = 0x230;
    public const int RelocatableKernelOffset = 0x234;
    public const int XLoadFlagsOffset = 0x236;
    public const int CmdlineSizeOffset = 0x238;
    public const int PrefAddressOffset = 0x258;
    public const int InitSizeOffset = 0x260;

    /// <summary>struct boot_params ends the setup header's room at 0x290 (edd_mbr_sig_buffer follows).</summary>
    public const int MaxEnd = 0x290;

    /// <summary>"HdrS", the header's magic; protocol 2.00 and later.</summary>
    public static ReadOnlySpan<byte> Signature => "HdrS"u8;

    /// <summary>2.12 added xloadflags, the only way to know a kernel has a 64-bit entry point.</summary>
    public const ushort MinimumVersion = 0x020C;

    /// <summary>loadflags bit 0: the protected-mode code loads at 1 MiB (a bzImage, not a zImage).</summary>
    public const byte LoadedHigh = 1 << 0;

    /// <summary>xloadflags bit 0: there is a 64-bit entry point 0x200 bytes after the protected-mode code's start.</summary>
    public const ushort XlfKernel64 = 1 << 0;

    /// <summary>The 64-bit entry's offset from the load address (startup_64 in arch/x86/boot/compressed/head_64.S).</summary>
    public const ulong Entry64Offset = 0x200;

    /// <summary>setup_sects as the protocol reads it: 0 means 4 (very old kernels left it unset).</summary>
    public required int SetupSectors { get; init; }
    public required ushort Version { get; init; }
    public required byte LoadFlags { get; init; }
    public required ushort XLoadFlags { get; init; }
    /// <summary>The highest address the initrd may occupy (its last byte).</summary>
    public required uint InitrdAddrMax { get; init; }
    public required uint KernelAlignment { get; init; }
    public required bool RelocatableKernel { get; init; }
    /// <summary>Longest command line the kernel takes, without the terminating NUL.</summary>
    public required uint CmdlineSize { get; init; }
    /// <summary>Where the kernel runs when not relocated (LOAD_PHYSICAL_ADDR).</summary>
    public required ulong PrefAddress { get; init; }
    /// <summary>Bytes the kernel needs from where it runs, for decompression and until its own memory setup.</summary>
    public required uint InitSize { get; init; }
    /// <summary>File offset of the header's end: 0x202 plus the jump's displacement byte at 0x201.</summary>
    public required int End { get; init; }

    /// <summary>File offset of the protected-mode kernel: after the boot sector and the setup sectors.</summary>
    public int ProtectedModeOffset => (SetupSectors + 1) * 512;

    /// <summary>True when <paramref name="image"/> carries the boot protocol's "HdrS" at 0x202.</summary>
    public static bool IsPresent(ReadOnlySpan<byte> image) =>
        image.Length >= SignatureOffset + 4 && image.Slice(SignatureOffset, 4).SequenceEqual(Signature);

    /// <summary>Reads and checks the header; throws <see cref="GuestImageException"/> naming <paramref name="source"/>.</summary>
    public static LinuxSetupHeader Parse(ReadOnlySpan<byte> image, string source)
    {
        if (!IsPresent(image)) throw Bad(source, "not a Linux bzImage (no \"HdrS\" at offset 202)");
        ushort version = U16(image, VersionOffset);
        string v = $"{version >> 8}.{version & 0xFF:d2}";
        if (version < MinimumVersion)
            throw Bad(source, $"Linux boot protocol {v} is too old; vmreplay needs 2.12 or later (Linux 3.8+) to find the 64-bit entry point");
        if (image.Length < InitSizeOffset + 4) throw Bad(source, $"the setup header of boot protocol {v} is cut short at {image.Length} bytes");
        int setupSectors = image[SetupSectsOffset] == 0 ? 4 : image[SetupSectsOffset];
        var header = new LinuxSetupHeader
        {
            SetupSectors = setupSectors,
            Version = version,
            LoadFlags = image[LoadFlagsOffset],
            XLoadFlags = U16(image, XLoadFlagsOffset),
            InitrdAddrMax = U32(image, InitrdAddrMaxOffset),
            KernelAlignment = U32(image, KernelAlignmentOffset),
            RelocatableKernel = image[RelocatableKernelOffset] != 0,
            CmdlineSize = U32(image, CmdlineSizeOffset),
            PrefAddress = U64(image, PrefAddressOffset),
            InitSize = U32(image, InitSizeOffset),
            End = Math.Min(SignatureOffset + image[JumpOffset + 1], MaxEnd),
        };
        if ((header.LoadFlags & LoadedHigh) == 0)
            throw Bad(source, "a zImage (loadflags LOADED_HIGH clear) is loaded at 64 KiB in real mode; vmreplay boots bzImages");
        if (header.ProtectedModeOffset >= image.Length)
            throw Bad(source, $"the file ends at {image.Length:x}, before the protected-mode kernel at {header.ProtectedModeOffset:x} ({setupSectors} setup sectors)");
        return header;
    }

    private static GuestImageException Bad(string source, string what) => new($"{source}: {what}");
    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}
