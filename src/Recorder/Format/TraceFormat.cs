using VmReplay.Engine.Memory;

namespace VmReplay.Recorder.Format;

/// <summary>Constants of the trace container (traces/FORMAT.md).</summary>
public static class TraceFormat
{
    /// <summary>The version this vmreplay writes.</summary>
    public const uint Version = 7;

    /// <summary>
    /// The oldest version it still reads. Version 1 differs only in how the guest image is
    /// stored (raw, in IMAG) and in having no initrd, version 2 in having no instruction counts
    /// (event kinds 8 and 9), version 3 in how the end event hashes memory, version 4 in the
    /// function its page-set hashes use, version 5 in having no repeated exits (event kind 10),
    /// version 6 in having no end of a run stopped from outside (outcome kind 7);
    /// recordings made with them must keep replaying.
    /// </summary>
    public const uint OldestReadableVersion = 1;

    /// <summary>
    /// From this version the end event's memory hash covers the non-zero pages only (with their
    /// addresses); before it, it is the SHA-256 of all of RAM (<see cref="FinalState.MemoryHash"/>).
    /// </summary>
    public const uint FirstVersionHashingNonZeroPages = 4;

    /// <summary>
    /// From this version the page-set hashes of the end event and of snapshots are XXH3-64;
    /// before it they are SHA-256 (<see cref="PageHashOf"/>). Finding and hashing RAM's non-zero
    /// pages at the end of the Linux boot took its recording and its replay 5.6 to 5.8 ms each
    /// with SHA-256, 1.6 to 2.0 ms with XXH3; a replay also hashes every snapshot it reads.
    /// </summary>
    public const uint FirstVersionHashingPagesWithXxh3 = 5;

    /// <summary>The function of the end event's and the snapshots' page-set hashes in trace format <paramref name="version"/>.</summary>
    public static PageHashAlgorithm PageHashOf(uint version) =>
        version >= FirstVersionHashingPagesWithXxh3 ? PageHashAlgorithm.Xxh3 : PageHashAlgorithm.Sha256;

    public const int FileHeaderSize = 16;
    public const int ChunkHeaderSize = 8;
    public const int ChunkCrcSize = 4;
    public const int TrailerSize = 16;
    public const int IndexEntrySize = 24;

    /// <summary>Upper bound on one chunk's payload; a larger length marks a damaged chunk header.</summary>
    public const uint MaxPayload = 256u << 20;

    // The limits below are what a reader checks a declared size against before it allocates or
    // decompresses anything (traces/FORMAT.md, "Limits"): a small damaged or hostile file must
    // not be able to ask for gigabytes or minutes. A recorder never writes past them.

    /// <summary>The most bytes a HEAD (JSON) payload may hold: a header is a few kilobytes.</summary>
    public const uint MaxHeaderPayload = 1u << 20;

    /// <summary>The most bytes a MODE or FALT (JSON) payload may hold.</summary>
    public const uint MaxRecordPayload = 1u << 20;

    /// <summary>The most events one EVNT batch holds.</summary>
    public const int MaxEventsPerBatch = 16384;

    /// <summary>The most bytes one EVNT batch decodes to (its zstd frame's declared content size).</summary>
    public const int MaxBatchBytes = 8 << 20;

    /// <summary>
    /// An EVNT batch decodes to at most this many bytes per byte of its payload. Decoding time
    /// follows the decoded size, so this bounds the work a file of a given size can ask for; a
    /// recorder splits a batch that compresses better than this (a guest repeating one exit).
    /// </summary>
    public const int MaxBatchExpansion = 8;

    /// <summary>
    /// An EVNT batch holds at most this many events per byte of its payload. A repeated exit
    /// (event kind 10, from version 6) is one event a few bytes long however often it repeats:
    /// without this, a small file could ask a reader to decode billions of events. Every batch
    /// of an earlier version is within it (an event takes at least one byte, and a batch
    /// decodes to at most <see cref="MaxBatchExpansion"/> bytes per payload byte).
    /// </summary>
    public const int MaxEventsPerPayloadByte = 8;

    /// <summary>The most events an EVNT batch with a payload of <paramref name="payloadLength"/> bytes may hold.</summary>
    public static int MaxEventsIn(long payloadLength) => (int)Math.Min(MaxEventsPerBatch, MaxEventsPerPayloadByte * payloadLength);

    /// <summary>From this version a batch may repeat an exit (event kind 10) instead of encoding it again.</summary>
    public const uint FirstVersionRepeatingExits = 6;

    public static ReadOnlySpan<byte> FileMagic => "VMRTRACE"u8;
    public static ReadOnlySpan<byte> TrailerMagic => "VMRINDEX"u8;

    /// <summary>"versions 1, 2, 3, 4, 5, 6 and 7": what a message rejecting a version says this vmreplay reads.</summary>
    public static string ReadableVersions
    {
        get
        {
            var all = Enumerable.Range((int)OldestReadableVersion, (int)(Version - OldestReadableVersion + 1)).ToArray();
            return all.Length == 1 ? $"version {all[0]}" : $"versions {string.Join(", ", all[..^1])} and {all[^1]}";
        }
    }
}
