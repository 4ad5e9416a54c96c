using System.Buffers.Binary;

namespace VmReplay.Recorder.Format;

/// <summary>
/// Opens a trace file and lists its chunks: from the index when the trace was finished, by a
/// scan when it was not (a killed recording) or when its index is damaged, in which case it says
/// where and why reading stopped. Payloads are CRC-checked on every read. Every offset and length
/// the file declares is checked against the bytes present before it is used.
/// </summary>
public sealed class TraceFileReader : IDisposable
{
    private readonly Stream _file;
    private readonly string _path;
    private readonly long _length;
    private readonly List<ChunkInfo> _chunks = new();

    private TraceFileReader(Stream file, string path)
    {
        _file = file;
        _path = path;
        _length = file.Length;
    }

    public IReadOnlyList<ChunkInfo> Chunks => _chunks;

    /// <summary>True when the index and trailer were found intact.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>For an incomplete trace: where reading stopped and why.</summary>
    public string? IncompleteReason { get; private set; }

    public long FileLength => _length;

    /// <summary>The format version in the file header (one this vmreplay reads).</summary>
    public uint Version { get; private set; }

    /// <summary>Opens <paramref name="path"/>; throws <see cref="TraceFormatException"/> for a file that is not a readable trace.</summary>
    public static TraceFileReader Open(string path)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (FileNotFoundException) { throw new TraceFormatException($"{path}: no such trace file"); }
        catch (DirectoryNotFoundException) { throw new TraceFormatException($"{path}: no such trace file"); }
        catch (UnauthorizedAccessException) { throw new TraceFormatException($"{path}: permission denied"); }
        return Open(file, path);
    }

    /// <summary>
    /// Reads a trace from <paramref name="stream"/> (seekable; disposed with the reader, or here on
    /// failure), naming it <paramref name="name"/> in messages.
    /// </summary>
    public static TraceFileReader Open(Stream stream, string name)
    {
        try
        {
            var reader = new TraceFileReader(stream, name);
            reader.ReadFileHeader();
            if (reader.ReadIndex() is { } damage) reader.Scan(damage);
            return reader;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The payload of <paramref name="chunk"/>, after checking its CRC. Any thread.</summary>
    public byte[] ReadPayload(ChunkInfo chunk)
    {
        // The chunk list only holds chunks that lie within the file; this guards a ChunkInfo made elsewhere.
        if (chunk.Offset < TraceFormat.FileHeaderSize || chunk.PayloadLength > TraceFormat.MaxPayload || chunk.End > _length)
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} is cut off by the end of the file");
        var header = new byte[TraceFormat.ChunkHeaderSize];
        var payload = new byte[chunk.PayloadLength];
        var crc = new byte[TraceFormat.ChunkCrcSize];
        bool whole;
        // Any thread: a replay reads its first snapshot on another thread while it reads events.
        lock (_file)
        {
            _file.Position = chunk.Offset;
            whole = ReadExactly(header) && ReadExactly(payload) && ReadExactly(crc);
        }
        if (!whole)
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} is cut off by the end of the file");
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(crc);
        uint actual = Crc32C.Compute(header, payload);
        if (expected != actual || BinaryPrimitives.ReadUInt32LittleEndian(header) != chunk.Type.Value)
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} is corrupt (CRC32C {actual:x8}, recorded {expected:x8})");
        return payload;
    }

    /// <summary>
    /// The payload of <paramref name="chunk"/> when it is at most <paramref name="limit"/> bytes
    /// (checked before anything is read); otherwise a <see cref="TraceFormatException"/> naming
    /// the chunk and the limit.
    /// </summary>
    public byte[] ReadPayload(ChunkInfo chunk, uint limit, string what)
    {
        if (chunk.PayloadLength > limit)
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} declares a {chunk.PayloadLength}-byte {what}; the format allows at most {limit} bytes");
        return ReadPayload(chunk);
    }

    private void ReadFileHeader()
    {
        if (_length == 0) throw new TraceFormatException($"{_path}: empty file, not a vmreplay trace");
        var header = new byte[TraceFormat.FileHeaderSize];
        _file.Position = 0;
        if (!ReadExactly(header) || !header.AsSpan(0, 8).SequenceEqual(TraceFormat.FileMagic))
            throw new TraceFormatException($"{_path}: not a vmreplay trace (no VMRTRACE header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
        if (version is < TraceFormat.OldestReadableVersion or > TraceFormat.Version)
            throw new TraceFormatException($"{_path}: trace format version {version} is not supported (this vmreplay reads {TraceFormat.ReadableVersions})");
        Version = version;
    }

    // Reads the chunk list from the index. Returns null when it did; otherwise the reason the
    // chunks must be found by a scan: no trailer (the recording did not finish), or what is
    // wrong with the index (then the reason says it is damaged).
    private string? ReadIndex()
    {
        if (_length < TraceFormat.FileHeaderSize + TraceFormat.TrailerSize) return NotFinished;
        var trailer = new byte[TraceFormat.TrailerSize];
        _file.Position = _length - TraceFormat.TrailerSize;
        if (!ReadExactly(trailer) || !trailer.AsSpan(0, 8).SequenceEqual(TraceFormat.TrailerMagic)) return NotFinished;
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(trailer.AsSpan(8));
        long indexLimit = _length - TraceFormat.TrailerSize;
        var indexChunk = ReadChunkHeader(-1, indexOffset, indexLimit, out string? problem);
        if (indexChunk is not { } ic) return Damaged($"the trailer gives the index offset {indexOffset}: {problem}");
        if (ic.Type != ChunkType.Index) return Damaged($"the trailer points at offset {indexOffset}, which holds a {ic.Type} chunk, not INDX");
        if (ic.End != indexLimit) return Damaged($"the INDX chunk at offset {indexOffset} does not end where the trailer begins ({ic.End}, not {indexLimit})");
        byte[] payload;
        try { payload = ReadPayload(ic); }
        catch (TraceFormatException) { return Damaged($"the INDX chunk at offset {indexOffset} fails its CRC check"); }
        if (payload.Length < 4) return Damaged($"the INDX payload is {payload.Length} bytes, too short for its entry count");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (4 + (long)count * TraceFormat.IndexEntrySize != payload.Length)
            return Damaged($"the INDX chunk at offset {indexOffset} counts {count} entries in {payload.Length - 4} bytes of {TraceFormat.IndexEntrySize}-byte entries");
        long previousEnd = TraceFormat.FileHeaderSize;
        ulong previousFirstEvent = 0;
        for (int i = 0; i < (int)count; i++)
        {
            var e = payload.AsSpan(4 + i * TraceFormat.IndexEntrySize);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(e[8..]);
            ulong firstEvent = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]);
            var type = new ChunkType(BinaryPrimitives.ReadUInt32LittleEndian(e));
            var chunk = ReadChunkHeader(i, offset, indexOffset, out problem);
            if (chunk is not { } c) return Damaged($"entry {i} gives offset {offset}: {problem}");
            // Chunks are appended in order and never overlap; event positions only grow.
            if (offset < previousEnd) return Damaged($"entry {i} gives offset {offset}, inside the chunk before it (which ends at {previousEnd})");
            if (c.Type != type) return Damaged($"entry {i} names a {type} chunk at offset {offset}, which holds a {c.Type} chunk");
            if (firstEvent > long.MaxValue || (type == ChunkType.Events && firstEvent < previousFirstEvent))
                return Damaged($"entry {i} ({type} at offset {offset}) gives first event {firstEvent}, out of order");
            if (type == ChunkType.Events) previousFirstEvent = firstEvent;
            _chunks.Add(c with { FirstEvent = firstEvent });
            previousEnd = c.End;
        }
        IsComplete = true;
        return null;
    }

    private const string NotFinished = "the recording did not finish (no index)";

    private string Damaged(string why)
    {
        _chunks.Clear();
        return $"the index is damaged ({why}), so the chunks were found by a scan";
    }

    // Rebuilds the chunk list from the chunks themselves, for a trace whose writer never finished
    // or whose index cannot be trusted; stops at the first chunk that is not all there.
    private void Scan(string why)
    {
        long offset = TraceFormat.FileHeaderSize;
        while (true)
        {
            if (offset == _length)
            {
                IncompleteReason = $"{why}: read {_chunks.Count} complete chunks, up to offset {offset}";
                return;
            }
            var chunk = ReadChunkHeader(_chunks.Count, offset, _length, out string? problem);
            if (chunk is not { } c)
            {
                IncompleteReason = (why == NotFinished ? "" : why + ": ") + $"read {_chunks.Count} complete chunks up to offset {offset}; then {problem}";
                return;
            }
            if (c.Type == ChunkType.Index)
            {
                // An index without its trailer (the writer stopped between the two), or the damaged one.
                IncompleteReason = why == NotFinished
                    ? $"the index chunk at offset {offset} has no trailer"
                    : $"{why}: read {_chunks.Count} complete chunks up to the index at offset {offset}";
                return;
            }
            ReadPayload(c); // a bad CRC here is corruption, not a torn write: report it
            _chunks.Add(c);
            offset = c.End;
        }
    }

    // The chunk header at offset, when the whole chunk lies within [offset, limit). Checked
    // before seeking, so no offset a damaged file gives is ever used as one.
    private ChunkInfo? ReadChunkHeader(int number, long offset, long limit, out string? problem)
    {
        if (offset < TraceFormat.FileHeaderSize || offset > limit - TraceFormat.ChunkHeaderSize)
        {
            problem = offset >= TraceFormat.FileHeaderSize && offset <= limit
                ? $"the file ends inside the header of chunk {number} at offset {offset}"
                : $"outside the chunks, which lie in {TraceFormat.FileHeaderSize}..{limit}";
            return null;
        }
        var header = new byte[TraceFormat.ChunkHeaderSize];
        _file.Position = offset;
        if (!ReadExactly(header))
        {
            problem = $"the file ends inside the header of chunk {number} at offset {offset}";
            return null;
        }
        var type = new ChunkType(BinaryPrimitives.ReadUInt32LittleEndian(header));
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
        if (len > TraceFormat.MaxPayload)
        {
            problem = $"chunk {number} at offset {offset} has an impossible length {len}";
            return null;
        }
        var info = new ChunkInfo(number, type, offset, len, 0);
        if (info.End > limit)
        {
            problem = $"the file ends inside chunk {number} ({type}) at offset {offset}";
            return null;
        }
        problem = null;
        return info;
    }

    private bool ReadExactly(byte[] buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = _file.Read(buffer, done, buffer.Length - done);
            if (n == 0) return false;
            done += n;
        }
        return true;
    }

    public void Dispose() => _file.Dispose();
}
