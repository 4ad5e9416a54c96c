using System.Buffers.Binary;

namespace VmReplay.Recorder.Format;

/// <summary>
/// Opens a trace file and lists its chunks: from the index when the trace was finished, by a
/// scan when it was not (a killed recording), in which case it says where and why reading
/// stopped. Payloads are CRC-checked on every read.
/// </summary>
public sealed class TraceFileReader : IDisposable
{
    private readonly FileStream _file;
    private readonly string _path;
    private readonly List<ChunkInfo> _chunks = new();

    private TraceFileReader(FileStream file, string path)
    {
        _file = file;
        _path = path;
    }

    public IReadOnlyList<ChunkInfo> Chunks => _chunks;

    /// <summary>True when the index and trailer were found intact.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>For an incomplete trace: where reading stopped and why.</summary>
    public string? IncompleteReason { get; private set; }

    public long FileLength => _file.Length;

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
        var reader = new TraceFileReader(file, path);
        try
        {
            reader.ReadFileHeader();
            if (!reader.TryReadIndex()) reader.Scan();
            return reader;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The payload of <paramref name="chunk"/>, after checking its CRC.</summary>
    public byte[] ReadPayload(ChunkInfo chunk)
    {
        var header = new byte[TraceFormat.ChunkHeaderSize];
        var payload = new byte[chunk.PayloadLength];
        var crc = new byte[TraceFormat.ChunkCrcSize];
        _file.Position = chunk.Offset;
        if (!ReadExactly(header) || !ReadExactly(payload) || !ReadExactly(crc))
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} is cut off by the end of the file");
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(crc);
        uint actual = Crc32C.Append(Crc32C.Compute(header), payload);
        if (expected != actual || BinaryPrimitives.ReadUInt32LittleEndian(header) != chunk.Type.Value)
            throw new TraceFormatException($"{_path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} is corrupt (CRC32C {actual:x8}, recorded {expected:x8})");
        return payload;
    }

    private void ReadFileHeader()
    {
        if (_file.Length == 0) throw new TraceFormatException($"{_path}: empty file, not a vmreplay trace");
        var header = new byte[TraceFormat.FileHeaderSize];
        if (!ReadExactly(header) || !header.AsSpan(0, 8).SequenceEqual(TraceFormat.FileMagic))
            throw new TraceFormatException($"{_path}: not a vmreplay trace (no VMRTRACE header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
        if (version is < TraceFormat.OldestReadableVersion or > TraceFormat.Version)
            throw new TraceFormatException($"{_path}: trace format version {version} is not supported (this vmreplay reads {TraceFormat.ReadableVersions})");
        Version = version;
    }

    private bool TryReadIndex()
    {
        long length = _file.Length;
        if (length < TraceFormat.FileHeaderSize + TraceFormat.TrailerSize) return false;
        var trailer = new byte[TraceFormat.TrailerSize];
        _file.Position = length - TraceFormat.TrailerSize;
        if (!ReadExactly(trailer) || !trailer.AsSpan(0, 8).SequenceEqual(TraceFormat.TrailerMagic)) return false;
        long indexOffset = BinaryPrimitives.ReadInt64LittleEndian(trailer.AsSpan(8));
        if (indexOffset < TraceFormat.FileHeaderSize || indexOffset >= length) return false;
        var indexChunk = ReadChunkHeader(-1, indexOffset, length - TraceFormat.TrailerSize, out _);
        if (indexChunk is not { } ic || ic.Type != ChunkType.Index) return false;
        byte[] payload;
        try { payload = ReadPayload(ic); }
        catch (TraceFormatException) { return false; }
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (4 + (long)count * TraceFormat.IndexEntrySize != payload.Length) return false;
        for (int i = 0; i < count; i++)
        {
            var e = payload.AsSpan(4 + i * TraceFormat.IndexEntrySize);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(e[8..]);
            var chunk = ReadChunkHeader(i, offset, indexOffset, out _);
            if (chunk is not { } c || c.Type.Value != BinaryPrimitives.ReadUInt32LittleEndian(e)) return Reset();
            _chunks.Add(c with { FirstEvent = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]) });
        }
        IsComplete = true;
        return true;
    }

    private bool Reset()
    {
        _chunks.Clear();
        return false;
    }

    // Rebuilds the chunk list from the chunks themselves, for a trace whose writer never finished.
    private void Scan()
    {
        long offset = TraceFormat.FileHeaderSize;
        long length = _file.Length;
        while (true)
        {
            if (offset == length)
            {
                IncompleteReason = $"the recording did not finish (no index): read {_chunks.Count} complete chunks, up to offset {offset}";
                return;
            }
            var chunk = ReadChunkHeader(_chunks.Count, offset, length, out string? problem);
            if (chunk is not { } c)
            {
                IncompleteReason = $"read {_chunks.Count} complete chunks up to offset {offset}; then {problem}";
                return;
            }
            if (c.Type == ChunkType.Index)
            {
                // An index without its trailer: the writer stopped between the two.
                IncompleteReason = $"the index chunk at offset {offset} has no trailer";
                return;
            }
            ReadPayload(c); // a bad CRC here is corruption, not a torn write: report it
            _chunks.Add(c);
            offset = c.End;
        }
    }

    private ChunkInfo? ReadChunkHeader(int number, long offset, long limit, out string? problem)
    {
        var header = new byte[TraceFormat.ChunkHeaderSize];
        _file.Position = offset;
        if (offset + TraceFormat.ChunkHeaderSize > limit || !ReadExactly(header))
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
