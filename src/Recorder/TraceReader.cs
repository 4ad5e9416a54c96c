using System.Runtime.ExceptionServices;
using VmReplay.Devices.Platform;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

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
    public static TraceReader Open(string path) => Open(TraceFileReader.Open(path), path);

    /// <summary>Reads a trace from <paramref name="stream"/> (seekable), named <paramref name="name"/> in messages; the reader owns the stream.</summary>
    public static TraceReader Open(Stream stream, string name) => Open(TraceFileReader.Open(stream, name), name);

    private static TraceReader Open(TraceFileReader file, string path)
    {
        try
        {
            // Version 1 stored the image raw and had no initrd; version 2 compresses both.
            var imageType = file.Version == 1 ? ChunkType.Image : ChunkType.CompressedImage;
            var head = file.Chunks.FirstOrDefault(c => c.Type == ChunkType.Header);
            var image = file.Chunks.FirstOrDefault(c => c.Type == imageType);
            if (head.Type != ChunkType.Header || image.Type != imageType)
                throw new TraceFormatException($"{path}: the trace has no header or guest image chunk (HEAD, {imageType}; format version {file.Version})");
            TraceHeader header;
            try { header = TraceHeader.FromJson(file.ReadPayload(head, TraceFormat.MaxHeaderPayload, "header")); }
            catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{path}: chunk {head.Number} (HEAD) at offset {head.Offset} is not a valid header: {OneLine(e.Message)}"); }
            catch (FormatException e) { throw new TraceFormatException($"{path}: chunk {head.Number} (HEAD) at offset {head.Offset} is not a valid header: {e.Message}"); }
            ChunkInfo? initrd = null;
            if (header.HasInitrd)
            {
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
        try { return Faults.VmmFault.FromJson(_file.ReadPayload(chunk, TraceFormat.MaxRecordPayload, "fault record")); }
        catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{Path}: chunk {chunk.Number} (FALT) at offset {chunk.Offset} is not a fault record: {OneLine(e.Message)}"); }
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
            try { return CpuModesSeen.FromJson(_file.ReadPayload(chunk, TraceFormat.MaxRecordPayload, "CPU-mode record")); }
            catch (System.Text.Json.JsonException e) { throw new TraceFormatException($"{Path}: chunk {chunk.Number} (MODE) at offset {chunk.Offset} is not a CPU-mode record: {OneLine(e.Message)}"); }
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

    /// <summary>The EVNT chunks in recorded order; each one's <see cref="ChunkInfo.FirstEvent"/> is the index of its first event.</summary>
    public IReadOnlyList<ChunkInfo> EventChunks
    {
        get
        {
            LocateEvents();
            return _eventChunks!;
        }
    }

    private List<ChunkInfo>? _snapshots, _eventChunks;

    // The index holds each chunk's first event. A trace recovered by a scan has no index, so
    // the positions are rebuilt from the chunks themselves: event counts and snapshot headers.
    private void LocateEvents()
    {
        if (_eventChunks is not null) return;
        // A loop, not LINQ: every replay opens its trace here, and LINQ's iterators over
        // ChunkInfo were compiled on the way to its first instruction (4 ms).
        var events = new List<ChunkInfo>();
        var snapshots = new List<ChunkInfo>();
        var chunks = _file.Chunks;
        for (int i = 0; i < chunks.Count; i++)
        {
            var c = chunks[i];
            if (c.Type == ChunkType.Events) events.Add(c);
            else if (c.Type == ChunkType.Snapshot) snapshots.Add(c);
        }
        if (!_file.IsComplete)
        {
            ulong next = 0;
            for (int i = 0; i < events.Count; i++)
            {
                events[i] = events[i] with { FirstEvent = next };
                next += (ulong)ReadBatch(events[i]).Count;
            }
            for (int i = 0; i < snapshots.Count; i++)
                snapshots[i] = snapshots[i] with { FirstEvent = (ulong)ReadSnapshot(snapshots[i], withPages: false).EventIndex };
        }
        _eventChunks = events;
        _snapshots = snapshots;
    }

    /// <summary>The events of one EVNT chunk; throws <see cref="TraceFormatException"/> naming the chunk.</summary>
    public List<TraceEvent> DecodeEvents(ChunkInfo chunk)
    {
        var events = new List<TraceEvent>();
        DecodeEvents(chunk, events);
        return events;
    }

    // Appends the events of one EVNT chunk to `events`, or none of them: throws naming the chunk.
    private void DecodeEvents(ChunkInfo chunk, List<TraceEvent> events)
    {
        int before = events.Count;
        try { EventCodec.Decode(Decompress(chunk), events, TraceFormat.MaxEventsIn(chunk.PayloadLength)); }
        catch (FormatException e)
        {
            events.RemoveRange(before, events.Count - before);
            throw DoesNotDecode(chunk, e);
        }
    }

    // An EVNT chunk's payload as its frame decompresses, within the format's limits.
    private byte[] Decompress(ChunkInfo chunk) =>
        ZstdFrame.Decompress(_file.ReadPayload(chunk), TraceFormat.MaxBatchBytes, TraceFormat.MaxBatchExpansion);

    private TraceFormatException DoesNotDecode(ChunkInfo chunk, FormatException e) =>
        new($"{Path}: chunk {chunk.Number} (EVNT) at offset {chunk.Offset} does not decode: {e.Message}");

    /// <summary>Decodes a snapshot chunk (its pages only when <paramref name="withPages"/>); throws <see cref="TraceFormatException"/> naming the chunk.</summary>
    public Snapshot ReadSnapshot(ChunkInfo chunk, bool withPages)
    {
        try { return SnapshotCodec.Decode(_file.ReadPayload(chunk), withPages, Header.MemorySize, Version); }
        catch (FormatException e) { throw SnapshotDoesNotDecode(chunk, e); }
    }

    /// <summary>As <see cref="ReadSnapshot"/>, the device state left as recorded (<see cref="StoredSnapshot"/>).</summary>
    public StoredSnapshot ReadStoredSnapshot(ChunkInfo chunk, bool withPages)
    {
        try { return SnapshotCodec.DecodeStored(_file.ReadPayload(chunk), withPages, Header.MemorySize, Version); }
        catch (FormatException e) { throw SnapshotDoesNotDecode(chunk, e); }
    }

    /// <summary>
    /// The machine state of <paramref name="s"/>, read from snapshot chunk <paramref name="chunk"/>,
    /// its device state decoded; throws <see cref="TraceFormatException"/> naming the chunk.
    /// </summary>
    public MachineState ReadMachineState(StoredSnapshot s, ChunkInfo chunk)
    {
        try { return SnapshotCodec.MachineStateOf(s); }
        catch (FormatException e) { throw SnapshotDoesNotDecode(chunk, e); }
    }

    private TraceFormatException SnapshotDoesNotDecode(ChunkInfo chunk, FormatException e) =>
        new($"{Path}: chunk {chunk.Number} (SNAP) at offset {chunk.Offset} does not decode: {e.Message}");

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");

    /// <summary>Every event in recorded order, decoded chunk by chunk.</summary>
    public IEnumerable<TraceEvent> Events() => Events(0);

    /// <summary>The events from index <paramref name="first"/> on, starting at the chunk that holds it.</summary>
    public IEnumerable<TraceEvent> Events(long first)
    {
        LocateEvents();
        var chunks = _eventChunks!;
        int start = FirstChunk(chunks, first);
        long index = chunks.Count > 0 ? (long)chunks[start].FirstEvent : 0;
        foreach (var events in ReadAhead(chunks, start, DecodeStretch))
            foreach (var e in events)
            {
                if (index++ >= first) yield return e;
            }
    }

    /// <summary>
    /// The EVNT chunks from the one that holds event <paramref name="first"/> on, decompressed and
    /// checked, for reading an event at a time (a replay); the first batch may begin before
    /// <paramref name="first"/>.
    /// </summary>
    public IEnumerable<EncodedBatch> Batches(long first)
    {
        LocateEvents();
        var chunks = _eventChunks!;
        int start = FirstChunk(chunks, first);
        foreach (var batches in ReadAhead(chunks, start, ReadStretch, TakeReadAhead(start)))
            foreach (var b in batches) yield return b;
    }

    // The EVNT chunk that holds event `first` (the first chunk for an index before all of them).
    private static int FirstChunk(List<ChunkInfo> chunks, long first) => Math.Max(0, chunks.FindLastIndex(c => (long)c.FirstEvent <= first));

    /// <summary>
    /// Starts reading, on another thread, the chunk that <see cref="Batches"/> of
    /// <paramref name="first"/> begins with; the next enumeration of batches that begins there
    /// takes it instead of reading it. A replay asks for it as it opens the trace: the first
    /// chunk's decompression (with the decompressor's first use, about 9 ms) then overlaps the
    /// building of the machine instead of coming before the guest's first event.
    /// </summary>
    public void ReadBatchesAhead(long first)
    {
        LocateEvents();
        var chunks = _eventChunks!;
        int start = FirstChunk(chunks, first);
        if (chunks.Count <= start) return;
        Volatile.Write(ref _readAhead, new BatchesReadAhead(start, _reads.Run(() => ReadStretch(chunks, start, start + 1))));
    }

    private sealed class BatchesReadAhead(int start, Task<(List<EncodedBatch>, ExceptionDispatchInfo?)> read)
    {
        public int Start { get; } = start;
        public Task<(List<EncodedBatch>, ExceptionDispatchInfo?)> Read { get; } = read;
    }

    private BatchesReadAhead? _readAhead;

    // The read started by ReadBatchesAhead if it began at chunk `start` (taken once), else null.
    private Task<(List<EncodedBatch>, ExceptionDispatchInfo?)>? TakeReadAhead(int start)
    {
        var ahead = Volatile.Read(ref _readAhead);
        if (ahead is null || ahead.Start != start || Interlocked.CompareExchange(ref _readAhead, null, ahead) != ahead) return null;
        return ahead.Read;
    }

    private const long ReadAheadEvents = 4096;

    // The chunks from `start` on, read a stretch at a time by `read` (chunks [from, to)): the
    // first chunk here (or by `firstRead`, already under way), each stretch after it on another
    // thread, of at least ReadAheadEvents events, while the one before is consumed (a replay's
    // vCPU thread spent 10 ms of the Linux boot decoding events; chunk by chunk, a guest whose
    // chunks hold 16 events each waited for the other thread at every one). A chunk that does
    // not decode throws here, after everything before it, as it would unread.
    private IEnumerable<T> ReadAhead<T>(List<ChunkInfo> chunks, int start, Func<List<ChunkInfo>, int, int, (T Items, ExceptionDispatchInfo? Failure)> read,
        Task<(T, ExceptionDispatchInfo?)>? firstRead = null)
    {
        if (chunks.Count <= start) yield break;
        var (items, failure) = firstRead is null ? read(chunks, start, start + 1) : firstRead.GetAwaiter().GetResult();
        int next = start + 1;
        while (true)
        {
            Task<(T, ExceptionDispatchInfo?)>? ahead = null;
            if (failure is null && next < chunks.Count)
            {
                int from = next, to = StretchEnd(chunks, next);
                ahead = _reads.Run(() => read(chunks, from, to));
                next = to;
            }
            yield return items;
            failure?.Throw();
            if (ahead is null) yield break;
            (items, failure) = ahead.GetAwaiter().GetResult();
        }
    }

    private static int StretchEnd(List<ChunkInfo> chunks, int from)
    {
        int to = from + 1;
        while (to < chunks.Count && chunks[to].FirstEvent - chunks[from].FirstEvent < ReadAheadEvents) to++;
        return to;
    }

    // The events of chunks [from, to), up to the first that does not decode (and why).
    private (List<TraceEvent>, ExceptionDispatchInfo?) DecodeStretch(List<ChunkInfo> chunks, int from, int to)
    {
        // Sized from the index where it can be (the last chunk of a trace says nothing of its count).
        long known = to < chunks.Count ? (long)(chunks[to].FirstEvent - chunks[from].FirstEvent) : ReadAheadEvents;
        var events = new List<TraceEvent>((int)Math.Clamp(known, 0, 4 * ReadAheadEvents));
        for (int c = from; c < to; c++)
        {
            try { DecodeEvents(chunks[c], events); }
            catch (TraceFormatException e) { return (events, ExceptionDispatchInfo.Capture(e)); }
        }
        return (events, null);
    }

    // The batches of chunks [from, to), up to the first that does not decode (and why).
    private (List<EncodedBatch>, ExceptionDispatchInfo?) ReadStretch(List<ChunkInfo> chunks, int from, int to)
    {
        var batches = new List<EncodedBatch>(to - from);
        for (int c = from; c < to; c++)
        {
            try { batches.Add(ReadBatch(chunks[c])); }
            catch (TraceFormatException e) { return (batches, ExceptionDispatchInfo.Capture(e)); }
        }
        return (batches, null);
    }

    // One EVNT chunk decompressed and checked; throws naming the chunk.
    private EncodedBatch ReadBatch(ChunkInfo chunk)
    {
        try
        {
            var bytes = Decompress(chunk);
            return new EncodedBatch((long)chunk.FirstEvent, EventCodec.Count(bytes, TraceFormat.MaxEventsIn(chunk.PayloadLength)), bytes);
        }
        catch (FormatException e) { throw DoesNotDecode(chunk, e); }
    }

    /// <summary>
    /// Runs <paramref name="read"/> (a snapshot's, say) on this reader's thread for reading
    /// ahead, after what was queued there before; its result comes in the task.
    /// </summary>
    public Task<T> ReadAheadOfReplay<T>(Func<T> read) => _reads.Run(read);

    // Event chunks and snapshots are read ahead on one thread. A replay's start waits for
    // snapshot 0 and then for the first chunk, queued in that order while the machine is built;
    // a second thread for the snapshots read them in parallel, but starting it held up the
    // thread that started it (the main thread, or the vCPU's at the first snapshot) for about
    // 0.3 ms, more than reading a small guest's chunk and snapshot take together.
    private readonly ReadAheadThread _reads = new("vmreplay trace read-ahead");

    public void Dispose()
    {
        _reads.Dispose();
        _file.Dispose();
    }
}
