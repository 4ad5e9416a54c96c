using System.Buffers.Binary;

namespace VmReplay.Engine.Tests.Boot;

/// <summary>
/// A bzImage built in memory: a boot sector with the setup header, empty setup sectors, then
/// the protected-mode code with the 64-bit entry at offset 0x200. Every header field a loader
/// reads can be set; the defaults are those of a small relocatable 64-bit kernel.
/// </summary>
internal sealed record SyntheticBzImage
{
    public byte SetupSects { get; init; } = 4;
    public ushort Version { get; init; } = 0x020F;
    public byte LoadFlags { get; init; } = 0x01;             // LOADED_HIGH
    public ushort XLoadFlags { get; init; } = 0x03;          // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    public uint InitrdAddrMax { get; init; } = 0x7FFF_FFFF;
    public uint KernelAlignment { get; init; } = 0x20_0000;
    public byte Relocatable { get; init; } = 1;
    public uint CmdlineSize { get; init; } = 2047;
    public ulong PrefAddress { get; init; } = 0x20_0000;
    public uint InitSize { get; init; } = 0x10_0000;
    /// <summary>The jump at 0x200 is <c>EB xx</c>; the header ends at 0x202 + xx.</summary>
    public byte JumpDisplacement { get; init; } = 0x6A;
    /// <summary>The protected-mode kernel; code for the 64-bit entry goes at 0x200.</summary>
    public byte[] ProtectedMode { get; init; } = DefaultProtectedMode();

    public int SetupBytes => (SetupSects + 1) * 512;

    public byte[] Build()
    {
        var image = new byte[SetupBytes + ProtectedMode.Length];
        var s = image.AsSpan();
        s[0x1F1] = SetupSects;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x1F4..], (uint)(ProtectedMode.Length / 16)); // syssize
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FA..], 0xFFFF);                            // vid_mode: normal
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);                            // boot_flag
        s[0x200] = 0xEB;
        s[0x201] = JumpDisplacement;
        "HdrS"u8.CopyTo(s[0x202..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x20E..], 0x0200);                           // kernel_version string pointer
        s[0x211] = LoadFlags;
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x100000);                          // code32_start
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], InitrdAddrMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], KernelAlignment);
        s[0x234] = Relocatable;
        s[0x235] = 21;                                                                            // min_alignment
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], XLoadFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], CmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], PrefAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], InitSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x264..], 0x190);                              // handover_offset
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x268..], 0xABCD);                             // kernel_info_offset
        ProtectedMode.CopyTo(s[SetupBytes..]);
        return image;
    }

    /// <summary>
    /// 0x200 bytes of <c>hlt</c> (the 32-bit entry, unused), then at the 64-bit entry:
    /// <c>mov eax, [rsi+0x202]; out 0x80, eax; hlt</c>, which reports "HdrS" from the zero page.
    /// </summary>
    private static byte[] DefaultProtectedMode()
    {
        var code = new byte[0x400];
        code.AsSpan(0, 0x200).Fill(0xF4);
        byte[] entry64 = [0x8B, 0x86, 0x02, 0x02, 0x00, 0x00, 0xE7, 0x80, 0xF4];
        entry64.CopyTo(code, 0x200);
        return code;
    }
}
