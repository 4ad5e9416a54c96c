using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using ZstdSharp;

namespace VmReplay.Recorder;

/// <summary>A trace opened for reading: header, guest image, and the events in order.</summary>
public sealed class TraceReader : IDisposable
{
    private readonly TraceFileReader _file;

    private TraceReader(string path, TraceFileReader file, TraceHeader header, byte[] image)
    {
        Path = path;
        _file = file;
        Header = header;
        Image = image;
    }

    public string Path { get; }
    public TraceHeader Header { get; }
    public byte[] Image { get; }
    public TraceFileReader File => _file;

    /// <summary>Opens <paramref name="path"/>; throws <see cref="TraceFormatException"/> with a one-line reason.</summary>
    public static TraceReader Open(string path)
    {
        var file = TraceFileReader.Open(path);
        try
        {
            var head = file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Header);
            var image = file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Image);
            if (head.Type != ChunkType.Header || image.Type != ChunkType.Image)
                throw new TraceFormatException($"{path}: the trace has no header or guest image chunk");
            TraceHeader header;
            try { header = TraceHeader.FromJson(file.ReadPayload(head)); }
            catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{path}: chunk {head.Number} (HEAD) is not a valid header: {e.Message}"); }
            return new TraceReader(path, file, header, file.ReadPayload(image));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The snapshot chunks in recorded order; each one's <see cref="ChunkInfo.FirstEvent"/> is the event index it was taken at.</summary>
    public IReadOnlyList<ChunkInfo> Snapshots => _snapshots ??= _file.Chunks.Where(c => c.Type == ChunkType.Snapshot).ToList();
    private List<ChunkInfo>? _snapshots;

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
        using var decompressor = new Decompressor();
        var chunks = _file.Chunks.Where(c => c.Type == ChunkType.Events).ToList();
        int start = Math.Max(0, chunks.FindLastIndex(c => (long)c.FirstEvent <= first));
        long index = chunks.Count > 0 ? (long)chunks[start].FirstEvent : 0;
        foreach (var chunk in chunks.Skip(start))
        {
            byte[] raw;
            List<TraceEvent> events;
            try
            {
                raw = decompressor.Unwrap(_file.ReadPayload(chunk)).ToArray();
                events = EventCodec.Decode(raw);
            }
            catch (Exception e) when (e is FormatException or ZstdException)
            {
                throw new TraceFormatException($"{Path}: chunk {chunk.Number} (EVNT) at offset {chunk.Offset} does not decode: {e.Message}");
            }
            foreach (var e in events)
            {
                if (index++ >= first) yield return e;
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
