using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
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

    /// <summary>Every event in recorded order, decoded chunk by chunk.</summary>
    public IEnumerable<TraceEvent> Events()
    {
        using var decompressor = new Decompressor();
        foreach (var chunk in _file.Chunks.Where(c => c.Type == ChunkType.Events))
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
            foreach (var e in events) yield return e;
        }
    }

    public void Dispose() => _file.Dispose();
}
