using System.Buffers.Binary;
using VmReplay.Recorder.Format;

namespace VmReplay.Fuzz;

/// <summary>One chunk of a trace as written: its type, payload and the first event the index gives it.</summary>
public sealed record RawChunk(ChunkType Type, byte[] Payload, ulong FirstEvent);

/// <summary>
/// Takes a trace apart into chunks and puts one together again with valid CRCs and index, so that
/// a hostile input gets past the checksums to the code that must refuse it.
/// </summary>
public static class TraceBytes
{
    /// <summary>The chunks of a valid trace, index left out.</summary>
    public static List<RawChunk> Chunks(byte[] trace)
    {
        using var reader = TraceFileReader.Open(new MemoryStream(trace, writable: false), "base.vmtrace");
        return reader.Chunks.Where(c => c.Type != ChunkType.Index).Select(c => new RawChunk(c.Type, reader.ReadPayload(c), c.FirstEvent)).ToList();
    }

    /// <summary>
    /// A trace of <paramref name="chunks"/> in format <paramref name="version"/> (by default the
    /// one this build writes), with an index and trailer when <paramref name="finish"/>.
    /// </summary>
    public static byte[] Build(IEnumerable<RawChunk> chunks, bool finish = true, uint? version = null)
    {
        var file = new MemoryStream();
        using (var writer = new ChunkWriter(file))
        {
            foreach (var c in chunks) writer.Write(c.Type, c.Payload, c.FirstEvent);
            if (finish) writer.Finish();
        }
        var bytes = file.ToArray();
        // The file header's version is outside every CRC.
        if (version is { } v) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), v);
        return bytes;
    }

    /// <summary>The format version in <paramref name="trace"/>'s file header.</summary>
    public static uint Version(byte[] trace) => BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan(8));

    /// <summary><paramref name="trace"/> with the payload of the first chunk of <paramref name="type"/> replaced.</summary>
    public static byte[] ReplaceFirst(byte[] trace, ChunkType type, Func<byte[], byte[]> replace) => Replace(trace, type, replace, last: false);

    /// <summary><paramref name="trace"/> with the payload of the last chunk of <paramref name="type"/> replaced.</summary>
    public static byte[] ReplaceLast(byte[] trace, ChunkType type, Func<byte[], byte[]> replace) => Replace(trace, type, replace, last: true);

    private static byte[] Replace(byte[] trace, ChunkType type, Func<byte[], byte[]> replace, bool last)
    {
        var chunks = Chunks(trace);
        int at = last ? chunks.FindLastIndex(c => c.Type == type) : chunks.FindIndex(c => c.Type == type);
        if (at < 0) throw new ArgumentException($"the trace has no {type} chunk");
        chunks[at] = chunks[at] with { Payload = replace(chunks[at].Payload) };
        return Build(chunks, version: Version(trace));
    }

    /// <summary>
    /// <paramref name="trace"/> (finished) with its INDX payload rewritten by <paramref name="edit"/>:
    /// the INDX chunk is written again with a valid CRC, and the trailer points at it.
    /// </summary>
    public static byte[] ReplaceIndex(byte[] trace, Func<byte[], byte[]> edit)
    {
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(trace.AsSpan(trace.Length - 8));
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(trace.AsSpan((int)indexOffset + 4));
        var payload = edit(trace.AsSpan((int)indexOffset + TraceFormat.ChunkHeaderSize, length).ToArray());
        var file = new MemoryStream();
        file.Write(trace, 0, (int)indexOffset);
        file.Write(Chunk(ChunkType.Index, payload));
        Span<byte> trailer = stackalloc byte[TraceFormat.TrailerSize];
        TraceFormat.TrailerMagic.CopyTo(trailer);
        BinaryPrimitives.WriteInt64LittleEndian(trailer[8..], indexOffset);
        file.Write(trailer);
        return file.ToArray();
    }

    /// <summary>One chunk's bytes: header, payload and CRC32C.</summary>
    public static byte[] Chunk(ChunkType type, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[TraceFormat.ChunkHeaderSize + payload.Length + TraceFormat.ChunkCrcSize];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, type.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)payload.Length);
        payload.CopyTo(bytes.AsSpan(TraceFormat.ChunkHeaderSize));
        uint crc = Crc32C.Compute(bytes.AsSpan(0, TraceFormat.ChunkHeaderSize + payload.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(TraceFormat.ChunkHeaderSize + payload.Length), crc);
        return bytes;
    }

    /// <summary>
    /// <paramref name="trace"/> with the CRC of every chunk that lies whole in it, from the first
    /// on, made right: a coverage-guided fuzzer's mutations then reach the payload decoders
    /// instead of stopping at the checksum.
    /// </summary>
    public static byte[] WithCrcsFixed(byte[] trace)
    {
        var fixedUp = (byte[])trace.Clone();
        long at = TraceFormat.FileHeaderSize;
        while (at + TraceFormat.ChunkHeaderSize <= fixedUp.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(fixedUp.AsSpan((int)at + 4));
            long end = at + TraceFormat.ChunkHeaderSize + length;
            if (end + TraceFormat.ChunkCrcSize > fixedUp.Length) break;
            uint crc = Crc32C.Compute(fixedUp.AsSpan((int)at, (int)(end - at)));
            BinaryPrimitives.WriteUInt32LittleEndian(fixedUp.AsSpan((int)end), crc);
            at = end + TraceFormat.ChunkCrcSize;
        }
        return fixedUp;
    }

    /// <summary>Index entry <paramref name="entry"/>'s file offset set to <paramref name="offset"/>.</summary>
    public static Func<byte[], byte[]> IndexOffset(int entry, long offset) => payload =>
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(4 + entry * TraceFormat.IndexEntrySize + 8), offset);
        return payload;
    };
}
