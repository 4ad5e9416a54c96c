namespace VmReplay.Recorder.Format;

/// <summary>Constants of the trace container (traces/FORMAT.md).</summary>
public static class TraceFormat
{
    public const uint Version = 1;
    public const int FileHeaderSize = 16;
    public const int ChunkHeaderSize = 8;
    public const int ChunkCrcSize = 4;
    public const int TrailerSize = 16;
    public const int IndexEntrySize = 24;

    /// <summary>Upper bound on one chunk's payload; a larger length marks a damaged chunk header.</summary>
    public const uint MaxPayload = 256u << 20;

    public static ReadOnlySpan<byte> FileMagic => "VMRTRACE"u8;
    public static ReadOnlySpan<byte> TrailerMagic => "VMRINDEX"u8;
}
