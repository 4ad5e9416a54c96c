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
