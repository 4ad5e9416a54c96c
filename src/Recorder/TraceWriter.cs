using System.Buffers;
using System.Collections.Concurrent;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Native;
using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using ZstdSharp;

namespace VmReplay.Recorder;

/// <summary>
/// Writes a trace. The vCPU thread only appends events to a batch and hands over snapshot
/// copies; a background thread encodes, compresses (zstd for events, LZ4 for pages) and writes
/// them as chunks. A write error
/// (a full disk) stops the writer with a message; every chunk written before it stays readable.
/// </summary>
public sealed class TraceWriter : IDisposable
{
    private const int BatchSize = TraceFormat.MaxEventsPerBatch;
    // Replaced once, by the writer thread, when a trace was already at the path (see Replace).
    private FileStream _file;
    // Made on the writer thread once it has truncated the file (see WriteLoop); null until then, and if that failed.
    private volatile ChunkWriter? _chunks;
    // An item is a batch of events (with the index of its first event) or a snapshot.
    private readonly HandoffQueue<Handoff> _queue = new(capacity: 64);
    private readonly Thread _thread;
    private EventBatch _batch = new();
    // Batches the writer has written, for the vCPU thread to fill again.
    private readonly ConcurrentQueue<EventBatch> _emptied = new();
    private ulong _batchFirst;
    private volatile string? _failure;
    private long _compressedBytes, _rawBytes, _snapshotBytes, _snapshotPageBytes;
    private int _snapshots;
    private bool _longModeSeen;
    // The image and initrd until the writer thread has written them. Held in a class, not as
    // ReadOnlyMemory fields: a field of a framework struct leaves this class's layout outside the
    // ReadyToRun version bubble, and the precompiled code then looked up the offset of every
    // field it read, on every exit (the batch's among them).
    private sealed record EmbeddedFiles(ReadOnlyMemory<byte> Image, ReadOnlyMemory<byte> Initrd);
    private EmbeddedFiles? _embedded;
    private readonly Func<string, string?, TraceHeader> _header;
    private readonly EmbeddedFileCache? _cache;
    // The writer thread's buffer for compressed bytes (see WriteEvents).
    private byte[] _compressed = new byte[4096];
    // The writer thread's buffers for a snapshot's payload and its device state (see SnapshotCodec.Encode).
    private readonly ArrayBufferWriter<byte> _snapshotPayload = new(), _snapshotScratch = new();
    // The page copy of the snapshot queued last. The writer completes it between the parts of
    // the guest image's work (see WriteEmbeddedFiles), ahead of its turn in the queue: the copy
    // of the initial snapshot waited behind the image's hash and compression (the Linux vmlinux:
    // 35.7 MB, 100 ms), and the vCPU thread completed it itself at the next snapshot (14 ms,
    // a new copy completes the last first).
    private LazyPageCopy? _latestCopy;

    /// <summary>
    /// Creates <paramref name="path"/> and writes the header, then (on the writer thread, before
    /// any event) the guest image and the initrd (empty for none), both compressed. The header
    /// must give their sizes (and name an initrd exactly when there is one); a file larger than
    /// <see cref="EmbeddedFile.MaxSize"/> is refused before the trace is created. The writer
    /// thread reads <paramref name="image"/> and <paramref name="initrd"/> after the constructor
    /// returns, so the caller must not change them (a copy of the Linux vmlinux took 40 ms of the
    /// recording's start). With a <paramref name="cache"/>, a file packed before is taken from it
    /// instead of being packed again.
    /// </summary>
    public TraceWriter(string path, TraceHeader header, ReadOnlyMemory<byte> image, ReadOnlyMemory<byte> initrd = default, EmbeddedFileCache? cache = null)
        : this(path, Ready(CheckHeader(header, image, initrd)), image, initrd, cache)
    {
    }

    /// <summary>
    /// As the other constructor, with a header the writer thread makes from the SHA-256 of the
    /// image and of the initrd (null for none), which it computes first (25 ms for the Linux
    /// vmlinux) while the guest already runs. A header that does not fit the files, or that
    /// could not be made, stops the recording as a write failure would, with the reason in
    /// <see cref="Failure"/>.
    /// </summary>
    public TraceWriter(string path, Func<string, string?, TraceHeader> header, ReadOnlyMemory<byte> image, ReadOnlyMemory<byte> initrd = default, EmbeddedFileCache? cache = null)
    {
        if ((EmbeddedFile.CheckSize("guest image", path, image.Length) ?? EmbeddedFile.CheckSize("initrd", path, initrd.Length)) is { } tooLarge)
            throw new ArgumentException(tooLarge);
        Path = path;
        // Opened without truncating: the writer thread replaces a trace already at the path
        // (truncating the Linux boot's 14 MB trace took 4 ms of the recording's start).
        try { _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot create the trace: {e.Message}", e);
        }
        // The header, image and initrd are written on the writer thread while the guest starts
        // (compressing the Linux vmlinux with DWARF takes 0.1 to 0.2 s, half as long as its
        // boot), before any event: a trace cut short after its first event still holds
        // everything a replay needs.
        _header = header;
        _embedded = new EmbeddedFiles(image, initrd);
        _cache = cache;
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "vmreplay trace writer" };
        _thread.Start();
    }

    private static Func<string, string?, TraceHeader> Ready(TraceHeader header) => (_, _) => header;

    private static TraceHeader CheckHeader(TraceHeader header, ReadOnlyMemory<byte> image, ReadOnlyMemory<byte> initrd) =>
        HeaderMismatch(header, image, initrd) is { } why ? throw new ArgumentException(why) : header;

    private static string? HeaderMismatch(TraceHeader header, ReadOnlyMemory<byte> image, ReadOnlyMemory<byte> initrd, string imageSha256, string? initrdSha256)
    {
        if (HeaderMismatch(header, image, initrd) is { } mismatch) return mismatch;
        if (!header.ImageSha256.Equals(imageSha256, StringComparison.OrdinalIgnoreCase))
            return $"the header gives the image's SHA-256 as {header.ImageSha256}, not {imageSha256}";
        if (initrdSha256 is not null && !initrdSha256.Equals(header.InitrdSha256, StringComparison.OrdinalIgnoreCase))
            return $"the header gives the initrd's SHA-256 as {header.InitrdSha256}, not {initrdSha256}";
        return null;
    }

    private static string? HeaderMismatch(TraceHeader header, ReadOnlyMemory<byte> image, ReadOnlyMemory<byte> initrd)
    {
        if (header.ImageSize != image.Length) return $"the header gives the image as {header.ImageSize} bytes, not {image.Length}";
        if (header.HasInitrd != (initrd.Length != 0) || header.HasInitrd && (header.InitrdSize != initrd.Length || header.InitrdName is null))
            return $"the header's initrd ({header.InitrdName ?? "none"}, {header.InitrdSize?.ToString() ?? "no"} bytes) is not the {initrd.Length} bytes given";
        return EmbeddedFile.CheckSize("guest image", header.GuestName, image.Length) ?? EmbeddedFile.CheckSize("initrd", header.InitrdName ?? "", initrd.Length);
    }

    public string Path { get; }

    /// <summary>Events appended so far, the repetitions <see cref="Predicted"/> took included.</summary>
    public long EventCount => _eventCount + Predicted.Pending;

    private long _eventCount;

    /// <summary>
    /// Repetitions of the last exit appended, while it is a port exit of one element and the
    /// batch has room for them: the run loop takes them for the recording (the vCPU thread's
    /// every exit of a polling loop), and each counts as if appended by <see cref="TryAppendRepeatedPortExit"/>.
    /// </summary>
    public PredictedPortExits Predicted { get; } = new();

    /// <summary>Set when writing failed; recording must stop.</summary>
    public string? Failure => _failure;

    /// <summary>
    /// Called, on whichever thread found it, when the trace stops being written (the reason, as
    /// <see cref="Failure"/> then says): the recording should stop. Only the first failure.
    /// </summary>
    public event Action<string>? Failed;

    // Failures come from one thread at a time: the writer's while it runs, then the one that
    // joined it (Finish).
    private void Fail(string reason)
    {
        if (_failure is not null) return;
        _failure = reason;
        Failed?.Invoke(reason);
    }

    /// <summary>Bytes written to the file so far.</summary>
    public long BytesWritten => _chunks?.Length ?? 0;

    /// <summary>Uncompressed and compressed sizes of the event chunks written.</summary>
    public (long Raw, long Compressed) EventBytes => (Interlocked.Read(ref _rawBytes), Interlocked.Read(ref _compressedBytes));

    /// <summary>Snapshots written, their chunk bytes and the uncompressed bytes of the pages they hold.</summary>
    public (int Count, long Bytes, long PageBytes) SnapshotBytes =>
        (Volatile.Read(ref _snapshots), Interlocked.Read(ref _snapshotBytes), Interlocked.Read(ref _snapshotPageBytes));

    /// <summary>
    /// Queues a snapshot taken after the events appended so far; those events are written first,
    /// so a trace cut short never holds a snapshot ahead of its events. Called on the vCPU thread only.
    /// </summary>
    /// <param name="snapshot">The snapshot; its page data comes from <paramref name="pages"/> when given.</param>
    /// <param name="pages">The copy of the snapshot's pages being made, which the writer thread completes before it writes the snapshot.</param>
    public void AppendSnapshot(Snapshot snapshot, LazyPageCopy? pages = null)
    {
        _longModeSeen |= CpuModesSeen.InLongMode(snapshot.Machine.Vcpu.Sregs);
        Settle();
        Flush();
        if (_failure is null)
        {
            if (pages is not null) Volatile.Write(ref _latestCopy, pages);
            _queue.Add(new Handoff(null, 0, snapshot, pages));
        }
        else pages?.Abandon();
    }

    /// <summary>Appends an event. Called on the vCPU thread only.</summary>
    public void Append(TraceEvent e)
    {
        Settle();
        // A batch ends before it would pass either of the format's limits.
        if (_batch.MaxLength + EventCodec.MaxEncodedSize(e) > TraceFormat.MaxBatchBytes) Flush();
        _batch.Add(e);
        Appended();
        Predict();
    }

    /// <summary>
    /// Appends a port exit of one element if it repeats the last exit appended (a polling loop's
    /// every exit); false, with nothing appended, if it does not (then <see cref="AppendExit"/>).
    /// The exit as <see cref="PredictedPortExits.TryTake(ulong, long, ulong, ulong)"/> compares it with <see cref="Predicted"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool TryAppendRepeatedPortExit(ulong rip, long instructions, ulong key, ulong data)
    {
        if (!Predicted.TryTake(rip, instructions, key, data)) return false;
        Settle();
        return true;
    }

    /// <summary>
    /// Appends an exit's fingerprint, as <see cref="Append"/> appends an <see cref="ExitEvent"/>
    /// of these fields, without making one. Called on the vCPU thread only.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void AppendExit(in ExitFields exit)
    {
        Settle();
        if (_batch.MaxLength + EventCodec.MaxExitSize(exit.Data.Length) > TraceFormat.MaxBatchBytes) Flush();
        _batch.AddExit(exit);
        Appended();
        Predict();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void Appended()
    {
        _eventCount++;
        if (_batch.Count >= BatchSize) Flush();
    }

    // Counts the repetitions Predicted took since the last look, as appending each would have
    // (the batch ends at the same event: Predicted is armed with the room left before the end).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void Settle()
    {
        int taken = Predicted.Settle();
        if (taken == 0) return;
        _batch.AddRepetitions(taken, Predicted.Next);
        _eventCount += taken;
        if (_batch.Count >= BatchSize) Flush();
    }

    // After an event: which repetitions of it may follow in this batch, if any.
    private void Predict()
    {
        if (_batch.Count > 0 && _batch.TryPredict(out var next)) Predicted.Arm(next, BatchSize - _batch.Count);
        else Predicted.Disarm();
    }

    private void Flush()
    {
        // The next batch starts afresh: no repetition of an exit in this one.
        Predicted.Disarm();
        int count = _batch.Count;
        if (count == 0) return;
        // Counted before the hand-over: from then on the writer may write the batch and empty it
        // for reuse (read after it, the count was sometimes 0, and every later chunk was indexed
        // from the wrong event).
        ulong first = _batchFirst;
        _batchFirst += (ulong)count;
        if (_failure is not null)
        {
            // Nothing more is written: the batch is only emptied, for the events still appended.
            _batch.Clear();
            return;
        }
        _queue.Add(new Handoff(_batch, first, null, null));
        _batch = _emptied.TryDequeue(out var emptied) ? emptied : new EventBatch();
    }

    /// <summary>
    /// Writes what is buffered, the end event, the CPU modes seen (at snapshots, and
    /// <paramref name="endsInLongMode"/>) and the index. Returns the failure, if writing failed.
    /// </summary>
    public string? Finish(EndEvent end, bool endsInLongMode)
    {
        Append(end);
        Flush();
        _queue.Complete();
        _thread.Join();
        if (_failure is null)
        {
            try
            {
                _chunks!.Write(ChunkType.Modes, new CpuModesSeen(_longModeSeen || endsInLongMode).ToJson());
                _chunks!.Finish();
            }
            catch (Exception e) when (IsWriteFailure(e)) { Fail($"{Path}: writing the trace index failed: {Reason(e)}"); }
        }
        return _failure;
    }

    /// <summary>
    /// Ends a recording the VMM could not finish: writes what is buffered, then the fault record
    /// (FALT) and the index. Returns the write failure, if any.
    /// </summary>
    public string? FinishWithFault(Faults.VmmFault fault)
    {
        Settle();
        Flush();
        _queue.Complete();
        _thread.Join();
        if (_failure is null)
        {
            try
            {
                _chunks!.Write(ChunkType.Fault, fault.ToJson());
                _chunks!.Finish();
            }
            catch (Exception e) when (IsWriteFailure(e)) { Fail($"{Path}: writing the fault record failed: {Reason(e)}"); }
        }
        return _failure;
    }

    private void WriteLoop()
    {
        // Everything here only has to keep up with the guest: on a core the vCPU thread needs,
        // it goes second.
        HostThread.LowerPriority();
        try
        {
            // Only a file with something in it: /dev/null cannot be truncated, nor a pipe (nor
            // does a block device give a length).
            if (_file.CanSeek && _file.Length > 0) Replace();
            _chunks = new ChunkWriter(_file);
        }
        catch (Exception e) when (IsWriteFailure(e))
        {
            Fail($"{Path}: writing the trace's file header failed: {Reason(e)}");
        }
        if (_failure is null) WriteEmbeddedFiles();
        using var compressor = new Compressor(3);
        foreach (var (events, first, snapshot, pages) in _queue.Consume())
        {
            if (_failure is not null)
            {
                events?.Dispose();
                pages?.Abandon();
                if (pages is not null) Interlocked.CompareExchange(ref _latestCopy, null, pages);
                continue;
            }
            if (snapshot is not null)
            {
                WriteSnapshot(pages is null ? snapshot : snapshot with { PageData = pages.Complete() });
                // Written: its pages are no longer held for it.
                if (pages is not null) Interlocked.CompareExchange(ref _latestCopy, null, pages);
                continue;
            }
            try
            {
                WriteEvents(compressor, events!, first);
                events!.Clear();
                _emptied.Enqueue(events);
            }
            catch (Exception e) when (IsWriteFailure(e))
            {
                Fail($"{Path}: writing the trace failed after {first} events: {Reason(e)}");
                events!.Dispose();
            }
        }
    }

    // A trace already at the path is replaced by a new file, not truncated: ext4 (and XFS and
    // btrfs alike) take a file truncated and then written for one being rewritten in place, and
    // flush it to disk when it is closed, which the recording's last step waited for (the Linux
    // boot's 14 MB trace: 0.8 ms, against 0.07 for a new file). The old file's blocks are freed
    // here, while the guest runs. A symbolic link at the path is truncated as before, so that
    // the trace still goes where it points.
    private void Replace()
    {
        if (File.ResolveLinkTarget(Path, returnFinalTarget: false) is null && Deleted(Path))
        {
            // CreateNew (O_EXCL), not Create: .NET's Create truncates even the file it has just
            // made (ftruncate to 0), which marks it on ext4 just as truncating the old one did
            // (closing bench-exits' 121 KB trace took 0.15-0.2 ms, a file made with O_EXCL 0.01).
            FileStream fresh;
            try { fresh = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read); }
            catch (IOException) when (File.Exists(Path)) { fresh = new FileStream(Path, FileMode.Create, FileAccess.Write, FileShare.Read); }
            _file.Dispose();
            _file = fresh;
        }
        else _file.SetLength(0);
    }

    // False where the directory is one this user may not change: the file itself may still be written.
    private static bool Deleted(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        return true;
    }

    private void WriteEmbeddedFiles()
    {
        TraceHeader header;
        // The hashes are made here, from the bytes written, so that a cached frame is found by
        // what the file is and not by what a header says it is.
        var (image, initrd) = _embedded!;
        // Only this thread reads them, once.
        _embedded = null;
        // Before the header, which holds their hashes: a file found in the cache comes with its
        // SHA-256 (see EmbeddedFileCache), and no other SHA-256 is made.
        CompleteLatestCopy();
        using var imageFrame = Pack(image.Span);
        CompleteLatestCopy();
        using var initrdFrame = initrd.IsEmpty ? null : Pack(initrd.Span);
        try { header = _header(imageFrame.Sha256, initrdFrame?.Sha256); }
        catch (Exception e)
        {
            Fail($"{Path}: the trace header could not be made: {e.Message}");
            return;
        }
        if (HeaderMismatch(header, image, initrd, imageFrame.Sha256, initrdFrame?.Sha256) is { } mismatch)
        {
            Fail($"{Path}: {mismatch}");
            return;
        }
        try
        {
            _chunks!.Write(ChunkType.Header, header.ToJson());
            imageFrame.WriteTo(_chunks!, ChunkType.CompressedImage);
            initrdFrame?.WriteTo(_chunks!, ChunkType.Initrd);
        }
        catch (Exception e) when (IsWriteFailure(e))
        {
            Fail($"{Path}: writing the header and the guest image failed: {Reason(e)}");
        }
    }

    // Copies what the guest has not yet written of the last snapshot's pages; the copy stays
    // whole for when the snapshot's turn comes (completing it again copies nothing).
    private void CompleteLatestCopy() => Volatile.Read(ref _latestCopy)?.Complete();

    private PackedFile Pack(ReadOnlySpan<byte> file) =>
        _cache is null ? PackedFile.InMemory(EmbeddedFile.Pack(file), EmbeddedFile.Sha256(file)) : _cache.Pack(file);

    // A batch that a reader would refuse for holding too much for its payload is padded: more
    // events than 8 a byte (a guest repeating one exit exactly), or more than 8 decoded bytes a
    // byte (a guest polling with a value that changes, or with an input poll between its exits:
    // zstd compresses a batch of those 100:1 and more). The payload then is an eighth of what
    // the batch decodes to, which is what the limits ask. Writing such a batch in parts small
    // enough to compress within the limit, as this writer did before, cost more on both counts:
    // a serial-polling guest's trace took 1.36 bytes an event in 625,000 chunks of 32 events
    // (their headers and index entries more than their payloads; padded: 0.81 in 1,235), and the
    // writer compressed every event several times over as it halved the part size.
    //
    // The encoded and the compressed bytes go to two buffers kept for the whole recording: new
    // arrays for every try were large, short-lived garbage (a batch of 16,384 events encodes to
    // over 100 KB), and the collections they set off paused the vCPU thread (the 200,000-exit
    // guest: 48 ms of pauses in a 0.27 s recording).
    private void WriteEvents(Compressor compressor, EventBatch events, ulong first)
    {
        var raw = events.Bytes;
        int n = events.Count;
        // Room for the frame and for padding it to the payload its events need.
        int needed = Math.Max((n + TraceFormat.MaxEventsPerPayloadByte - 1) / TraceFormat.MaxEventsPerPayloadByte,
            (raw.Length + TraceFormat.MaxBatchExpansion - 1) / TraceFormat.MaxBatchExpansion);
        int bound = Math.Max(Compressor.GetCompressBound(raw.Length), needed) + ZstdFrame.SkippableFrameHeader;
        if (_compressed.Length < bound) _compressed = new byte[Math.Max(bound, 2 * _compressed.Length)];
        ReadOnlySpan<byte> packed = _compressed.AsSpan(0, compressor.Wrap(raw, _compressed));
        if (packed.Length < needed) packed = Padded(packed.Length, needed);
        _chunks!.Append(ChunkType.Events, packed, first);
        _chunks!.Flush();
        Interlocked.Add(ref _rawBytes, raw.Length);
        Interlocked.Add(ref _compressedBytes, packed.Length);
    }

    // The frame of `length` bytes at the start of _compressed, followed by a skippable frame that
    // makes the payload at least `needed` bytes long.
    private ReadOnlySpan<byte> Padded(int length, int needed)
    {
        int padding = Math.Max(ZstdFrame.SkippableFrameHeader, needed - length);
        ZstdFrame.WriteSkippable(_compressed.AsSpan(length, padding));
        return _compressed.AsSpan(0, length + padding);
    }

    // ENOSPC and EIO arrive as IOException; EFBIG (past the file-size limit) as .NET's
    // ArgumentOutOfRangeException "file length too large". Either way the trace stops there.
    private static bool IsWriteFailure(Exception e) => e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException;

    private static string Reason(Exception e) =>
        e is ArgumentOutOfRangeException ? "the file would exceed the file-size limit (EFBIG, ulimit -f)" : e.Message;

    private void WriteSnapshot(Snapshot s)
    {
        try
        {
            _snapshotPayload.ResetWrittenCount();
            SnapshotCodec.Encode(s with { MemoryHash = PageSetHash.Of(s.Pages, s.PageData, TraceFormat.PageHashOf(TraceFormat.Version)) }, _snapshotPayload, _snapshotScratch);
            var payload = _snapshotPayload.WrittenSpan;
            _chunks!.Write(ChunkType.Snapshot, payload, (ulong)s.EventIndex);
            Interlocked.Add(ref _snapshotBytes, payload.Length);
            Interlocked.Add(ref _snapshotPageBytes, s.PageData.Length);
            Interlocked.Increment(ref _snapshots);
        }
        catch (Exception e) when (IsWriteFailure(e))
        {
            Fail($"{Path}: writing the snapshot at event {s.EventIndex} failed: {Reason(e)}");
        }
    }

    public void Dispose()
    {
        if (!_queue.IsCompleted)
        {
            _queue.Complete();
            _thread.Join();
        }
        _batch.Dispose();
        while (_emptied.TryDequeue(out var emptied)) emptied.Dispose();
        // After a failed write the stream still buffers the bytes it could not write; closing it
        // tries again and fails the same way, which was already reported.
        try { (_chunks as IDisposable ?? _file).Dispose(); }
        catch (Exception e) when (IsWriteFailure(e)) { }
        _queue.Dispose();
    }

    // A class, not a tuple: the queue's code is then the shared code for reference types that
    // the ReadyToRun image holds, where a value tuple's instantiation was compiled by the JIT
    // at every recording's start (with the channel's, about a dozen methods).
    private sealed record Handoff(EventBatch? Events, ulong First, Snapshot? Snapshot, LazyPageCopy? Pages);
}
