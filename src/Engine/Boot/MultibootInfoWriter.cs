using System.Text;
using VmReplay.Engine.Memory;

namespace VmReplay.Engine.Boot;

/// <summary>
/// Builds the Multiboot 1 information structure (Multiboot Specification 0.6.96, 3.3) in low
/// memory: memory sizes, the memory map, the command line and the boot loader name.
/// </summary>
internal static class MultibootInfoWriter
{
    internal const uint BootloaderMagic = 0x2BADB002;
    internal const ulong InfoAddress = 0x7000;
    private const ulong MmapAddress = 0x7100;
    private const ulong LoaderNameAddress = 0x7400;
    internal const ulong CmdlineAddress = 0x8000;
    internal const int MaxCmdline = 0x7000; // up to 0xF000, below the boot-sector area's stack

    private const uint FlagMem = 1 << 0, FlagCmdline = 1 << 2, FlagMmap = 1 << 6, FlagLoaderName = 1 << 9;

    /// <summary>Writes the structure and returns its guest-physical address.</summary>
    internal static ulong Write(GuestMemory memory, string cmdline, string source)
    {
        var cmd = Encoding.UTF8.GetBytes(cmdline);
        if (cmd.Length + 1 > MaxCmdline)
            throw new GuestImageException($"{source}: command line of {cmd.Length} bytes is longer than the {MaxCmdline - 1} vmreplay passes");
        memory.Write(CmdlineAddress, [.. cmd, 0]);
        memory.Write(LoaderNameAddress, [.. Encoding.ASCII.GetBytes("vmreplay"), 0]);

        var map = PcMemoryMap.Build(memory);
        ulong at = MmapAddress;
        foreach (var e in map)
        {
            // Each entry is preceded by its size (20), which does not count itself.
            memory.WriteUInt32(at, 20);
            memory.WriteUInt64(at + 4, e.Base);
            memory.WriteUInt64(at + 12, e.Length);
            memory.WriteUInt32(at + 20, (uint)e.Type);
            at += 24;
        }

        var info = new byte[88];
        memory.Write(InfoAddress, info);
        memory.WriteUInt32(InfoAddress + 0, FlagMem | FlagCmdline | FlagMmap | FlagLoaderName);
        memory.WriteUInt32(InfoAddress + 4, (uint)(PcMemoryMap.ConventionalEnd / 1024));
        memory.WriteUInt32(InfoAddress + 8, (uint)(PcMemoryMap.ExtendedMemoryBelowHole(memory) / 1024));
        memory.WriteUInt32(InfoAddress + 16, (uint)CmdlineAddress);
        memory.WriteUInt32(InfoAddress + 44, (uint)(at - MmapAddress));
        memory.WriteUInt32(InfoAddress + 48, (uint)MmapAddress);
        memory.WriteUInt32(InfoAddress + 64, (uint)LoaderNameAddress);
        return InfoAddress;
    }
}
