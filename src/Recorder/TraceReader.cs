using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using ZstdSharp;

namespace VmReplay.Recorder;

/// <summary>A trace opened for reading: header, guest image and initrd, and the events in order.</summary>
public sealed class TraceReader : IDisposable
{
    private readonly TraceFileReader _file;
    private readonly ChunkInfo _imageChunk;
    private readonly ChunkInfo? _initrdChunk;
    private byte[]? _image, _initrd;

    private TraceReader(string path, TraceFileReader file, TraceHeader header, ChunkInfo image, ChunkInfo? initrd)
    {
        Path = path;
        _file = file;
        Header = header;
        _imageChunk = image;
        _initrdChunk = initrd;
    }

    public string Path { get; }
    public TraceHeader Header { get; }
    public TraceFileReader File => _file;

    /// <summary>The format version the trace was written in.</summary>
    public uint Version => _file.Version;

    /// <summary>
    /// The guest image, decompressed and checked against the header's size and SHA-256 on first
    /// use (info and diff never need it); throws <see cref="TraceFormatException"/> naming the chunk.
    /// </summary>
    public byte[] Image => _image ??= ReadEmbedded(_imageChunk, Header.ImageSize, Header.ImageSha256, "guest image");

    /// <summary>The chunk that holds the guest image (IMAG in version 1, IMGZ from version 2).</summary>
    public ChunkInfo ImageChunk => _imageChunk;

    /// <summary>The initrd the guest was booted with, or null for none; read like <see cref="Image"/>.</summary>
    public byte[]? Initrd => _initrdChunk is { } c ? _initrd ??= ReadEmbedded(c, Header.InitrdSize!.Value, Header.InitrdSha256!, "initrd") : null;

    /// <summary>The INRD chunk, or null when the guest had no initrd.</summary>
    public ChunkInfo? InitrdChunk => _initrdChunk;

    /// <summary>Opens <paramref name="path"/>; throws <see cref="TraceFormatException"/> with a one-line reason.</summary>
    public static TraceReader Open(string path)
    {
        var file = TraceFileReader.Open(path);
        try
        {
            // Version 1 stored the image raw and had no initrd; version 2 compresses both.
            var imageType = file.Version == 1 ? ChunkType.Image : ChunkType.CompressedImage;
            var head = file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Header);
            var image = file.Chunks.FirstOrDefault(c => c.Type == imageType);
            if (head.Type != ChunkType.Header || image.Type != imageType)
                throw new TraceFormatException($"{path}: the trace has no header or guest image chunk (HEAD, {imageType}; format version {file.Version})");
            TraceHeader header;
            try { header = TraceHeader.FromJson(file.ReadPayload(head)); }
            catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{path}: chunk {head.Number} (HEAD) is not a valid header: {e.Message}"); }
            ChunkInfo? initrd = null;
            if (header.InitrdName is not null || header.InitrdSha256 is not null || header.InitrdSize is not null)
            {
                if (header.InitrdName is null || header.InitrdSha256 is null || header.InitrdSize is null)
                    throw new TraceFormatException($"{path}: chunk {head.Number} (HEAD) names an initrd without all of its name, SHA-256 and size");
                var chunk = file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Initrd);
                if (chunk.Type != ChunkType.Initrd)
                    throw new TraceFormatException($"{path}: the header names the initrd {header.InitrdName} but the trace has no INRD chunk");
                initrd = chunk;
            }
            return new TraceReader(path, file, header, image, initrd);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private byte[] ReadEmbedded(ChunkInfo chunk, long size, string sha256, string what)
    {
        var payload = _file.ReadPayload(chunk);
        try
        {
            if (chunk.Type == ChunkType.Image)
            {
                EmbeddedFile.Verify(payload, size, sha256);
                return payload;
            }
            return EmbeddedFile.Unpack(payload, size, sha256);
        }
        catch (FormatException e)
        {
            throw new TraceFormatException($"{Path}: chunk {chunk.Number} ({chunk.Type}) at offset {chunk.Offset} does not hold the recorded {what}: {e.Message}");
        }
    }

    /// <summary>The VMM fault that ended the recording, if one did (a FALT chunk).</summary>
    public Faults.VmmFault? Fault()
    {
        var chunk = _file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Fault);
        if (chunk.Type != ChunkType.Fault) return null;
        try { return Faults.VmmFault.FromJson(_file.ReadPayload(chunk)); }
        catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{Path}: chunk {chunk.Number} (FALT) at offset {chunk.Offset} is not a fault record: {e.Message}"); }
    }

    /// <summary>
    /// The CPU modes the guest was seen in. A trace without a MODE chunk (cut short) tells from
    /// its snapshots alone.
    /// </summary>
    public CpuModesSeen Modes()
    {
        var chunk = _file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Modes);
        if (chunk.Type == ChunkType.Modes)
        {
            try { return CpuModesSeen.FromJson(_file.ReadPayload(chunk)); }
            catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{Path}: chunk {chunk.Number} (MODE) at offset {chunk.Offset} is not a CPU-mode record: {e.Message}"); }
        }
        return new CpuModesSeen(Snapshots.Any(c => CpuModesSeen.InLongMode(ReadSnapshot(c, withPages: false).Machine.Vcpu.Sregs)));
    }

    /// <summary>The snapshot chunks in recorded order; each one's <see cref="ChunkInfo.FirstEvent"/> is the event index it was taken at.</summary>
    public IReadOnlyList<ChunkInfo> Snapshots
    {
        get
        {
            LocateEvents();
            return _snapshots!;
        }
    }

    private List<ChunkInfo>? _snapshots, _eventChunks;

    // The index holds each chunk's first event. A trace recovered by a scan has no index, so
    // the positions are rebuilt from the chunks themselves: event counts and snapshot headers.
    private void LocateEvents()
    {
        if (_eventChunks is not null) return;
        var events = _file.Chunks.Where(c => c.Type == ChunkType.Events).ToList();
        var snapshots = _file.Chunks.Where(c => c.Type == ChunkType.Snapshot).ToList();
        if (!_file.IsComplete)
        {
            ulong next = 0;
            for (int i = 0; i < events.Count; i++)
            {
                events[i] = events[i] with { FirstEvent = next };
                next += (ulong)DecodeEvents(events[i], new Decompressor()).Count;
            }
            for (int i = 0; i < snapshots.Count; i++)
                snapshots[i] = snapshots[i] with { FirstEvent = (ulong)ReadSnapshot(snapshots[i], withPages: false).EventIndex };
        }
        _eventChunks = events;
        _snapshots = snapshots;
    }

    private List<TraceEvent> DecodeEvents(ChunkInfo chunk, Decompressor decompressor)
    {
        try { return EventCodec.Decode(decompressor.Unwrap(_file.ReadPayload(chunk))); }
        catch (Exception e) when (e is FormatException or ZstdException)
        {
            throw new TraceFormatException($"{Path}: chunk {chunk.Number} (EVNT) at offset {chunk.Offset} does not decode: {e.Message}");
        }
    }

    /// <summary>Decodes a snapshot chunk (its pages only when <paramref name="withPages"/>); throws <see cref="TraceFormatException"/> naming the chunk.</summary>
    public Snapshot ReadSnapshot(ChunkInfo chunk, bool withPages)
    {
        try { return SnapshotCodec.Decode(_file.ReadPayload(chunk), withPages); }
        catch (FormatException e)
        {
            throw new TraceFormatException($"{Path}: chunk {chunk.Number} (SNAP) at offset {chunk.Offset} does not decode: {e.Message}");
        }
    }

    /// <summary>Every event in recorded order, decoded chunk by chunk.</summary>
    public IEnumerable<TraceEvent> Events() => Events(0);

    /// <summary>The events from index <paramref name="first"/> on, starting at the chunk that holds it.</summary>
    public IEnumerable<TraceEvent> Events(long first)
    {
        LocateEvents();
        using var decompressor = new Decompressor();
        var chunks = _eventChunks!;
        int start = Math.Max(0, chunks.FindLastIndex(c => (long)c.FirstEvent <= first));
        long index = chunks.Count > 0 ? (long)chunks[start].FirstEvent : 0;
        foreach (var chunk in chunks.Skip(start))
        {
            foreach (var e in DecodeEvents(chunk, decompressor))
            {
                if (index++ >= first) yield return e;
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
