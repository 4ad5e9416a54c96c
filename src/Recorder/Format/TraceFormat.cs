namespace VmReplay.Recorder.Format;

/// <summary>Constants of the trace container (traces/FORMAT.md).</summary>
public static class TraceFormat
{
    /// <summary>The version this vmreplay writes.</summary>
    public const uint Version = 2;

    /// <summary>
    /// The oldest version it still reads. Version 1 differs only in how the guest image is
    /// stored (raw, in IMAG) and in having no initrd; recordings made with it must keep replaying.
    /// </summary>
    public const uint OldestReadableVersion = 1;

    public const int FileHeaderSize = 16;
    public const int ChunkHeaderSize = 8;
    public const int ChunkCrcSize = 4;
    public const int TrailerSize = 16;
    public const int IndexEntrySize = 24;

    /// <summary>Upper bound on one chunk's payload; a larger length marks a damaged chunk header.</summary>
    public const uint MaxPayload = 256u << 20;

    public static ReadOnlySpan<byte> FileMagic => "VMRTRACE"u8;
    public static ReadOnlySpan<byte> TrailerMagic => "VMRINDEX"u8;

    /// <summary>"versions 1 and 2": what a message rejecting a version says this vmreplay reads.</summary>
    public static string ReadableVersions
    {
        get
        {
            var all = Enumerable.Range((int)OldestReadableVersion, (int)(Version - OldestReadableVersion + 1)).ToArray();
            return all.Length == 1 ? $"version {all[0]}" : $"versions {string.Join(", ", all[..^1])} and {all[^1]}";
        }
    }
}
