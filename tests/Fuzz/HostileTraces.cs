using System.Buffers.Binary;
using System.Text.Json.Nodes;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Faults;
using VmReplay.Recorder.Format;
using ZstdSharp;

namespace VmReplay.Fuzz;

/// <summary>
/// The traces issue 11 found the reader mishandling, each made from a valid version 2 trace with
/// valid CRCs, so that the damage reaches the code that must refuse it. The corpus holds each
/// one that is under 1 MB (tests/Fuzz/Corpus/trace, written by <c>vmreplay-fuzz corpus</c>).
/// </summary>
public static class HostileTraces
{
    /// <summary>Every hostile trace by name (the corpus file name without .vmtrace), made from <paramref name="valid"/>.</summary>
    public static IReadOnlyList<(string Name, Func<byte[]> Make)> All(byte[] valid) =>
    [
        ("head-imagesha256-null", () => Header(valid, h => h["ImageSha256"] = null)),
        ("head-imagesha256-empty", () => Header(valid, h => h["ImageSha256"] = "")),
        ("head-initrdsha256-empty", () => Header(valid, h => { h["InitrdName"] = "initrd"; h["InitrdSha256"] = ""; h["InitrdSize"] = 1; })),
        ("head-cpumodel-null", () => Header(valid, h => h["CpuModel"] = null)),
        ("head-cpumodel-null-leaf", () => Header(valid, h => h["CpuModel"]!.AsArray().Insert(0, null))),
        ("head-guestname-300-characters", () => Header(valid, h => h["GuestName"] = new string('g', 300))),
        // Found after the issue: a virtual clock of 0 ns per instruction made replay print a raw
        // .NET message ("Specified argument was out of the range ... nanosecondsPerInstruction").
        ("head-virtual-clock-0-ns-per-instruction", () => Header(valid, h => { h["Clock"] = "virtual"; h["NanosecondsPerInstruction"] = 0; })),
        ("index-entry-offset-minus-1", () => TraceBytes.ReplaceIndex(valid, TraceBytes.IndexOffset(2, -1))),
        ("index-entry-offset-7fffffffffffffff", () => TraceBytes.ReplaceIndex(valid, TraceBytes.IndexOffset(2, long.MaxValue))),
        ("index-payload-0-bytes", () => TraceBytes.ReplaceIndex(valid, _ => [])),
        ("index-payload-3-bytes", () => TraceBytes.ReplaceIndex(valid, p => p[..3])),
        ("event-exit-data-length-ffffffff", () => Events(valid, ExitWithDataLength(0xFFFF_FFFF))),
        ("event-exit-data-length-7fffffff", () => Events(valid, ExitWithDataLength(0x7FFF_FFFF))),
        ("event-frame-2gib-of-zeros", () => TraceBytes.ReplaceFirst(valid, ChunkType.Events, _ => ZstdBombs.Rle(0, 2L << 30))),
        ("event-64mi-service-events", () => TraceBytes.ReplaceFirst(valid, ChunkType.Events, _ => ZstdBombs.Rle(4, 64 << 20))),
        ("event-256mi-service-events", () => TraceBytes.ReplaceFirst(valid, ChunkType.Events, _ => ZstdBombs.Rle(4, 256 << 20))),
        ("event-batch-of-16385", () => TraceBytes.ReplaceFirst(valid, ChunkType.Events, _ => StoredZstdFrame.Of(Enumerable.Repeat((byte)4, 16385).ToArray()))),
        // Repeated exits (event kind 10, format version 6): one with no exit before it, one that
        // asks a batch of a few bytes to hold 16,384 events, and a valid polling run that reads
        // (a seed for the fuzzer, in place of the first batch, with as many events).
        ("event-repeat-without-exit", () => Events(valid, [EventCodec.KRepeat, 1])),
        ("event-repeat-16383-times-in-a-tiny-batch", () => Events(valid, [.. EventCodec.Encode([Poll(0)]), EventCodec.KRepeat, 0xFF, 0x7F])),
        ("event-polling-run-repeated", () => TraceBytes.ReplaceFirst(valid, ChunkType.Events, PollingRun)),
        // The last snapshot: a replay that seeks past it restores it, pages and all.
        ("snapshot-600000-pages", () => TraceBytes.ReplaceLast(valid, ChunkType.Snapshot, p => Snapshot(p, 600_000, []))),
        ("snapshot-16000-pages-without-data", () => TraceBytes.ReplaceLast(valid, ChunkType.Snapshot, p => Snapshot(p, 16000, Pages(16000)))),
    ];

    /// <summary>The cases over 1 MB, made on demand only (not in the corpus).</summary>
    public static IReadOnlyList<(string Name, Func<byte[]> Make)> Large(byte[] valid) =>
    [
        ("head-guestname-20-mb", () => Header(valid, h => h["GuestName"] = new string('g', 20 << 20))),
        // 1.2 GiB of RAM, so that the count fits the machine; 2.4 MB of addresses and no page data.
        // The most events a reader accepts in 1 MB: batches of 16384 service events, each as
        // small as the expansion limit lets it be (the frame padded with a skippable frame).
        ("event-most-events-in-1-mb", () => MostEvents(valid, 1 << 20)),
        // A VMM fault record (FALT) of about 1 MB: one long message, and stacks of 35,000 lines.
        ("fault-record-1-mb-message", () => WithFault(valid, new VmmFault("X", new string('m', 1_000_000), "s", [], null))),
        ("fault-record-35000-lines", () => WithFault(valid, new VmmFault("X", "m", string.Join("\n", Enumerable.Repeat("at A.B()", 20_000)),
            [new VmmThreadStack(1, 2, "t", Enumerable.Range(0, 15_000).Select(i => $"Frame{i}()").ToList())], null))),
        ("snapshot-300000-pages-without-data", () => TraceBytes.ReplaceLast(
            Header(valid, h => h["MemorySize"] = 300_000L * 4096), ChunkType.Snapshot, p => Snapshot(p, 300_000, Pages(300_000)))),
    ];

    /// <summary><paramref name="valid"/> with its events replaced by as many service events as fit <paramref name="fileSize"/> bytes within the format's limits.</summary>
    public static byte[] MostEvents(byte[] valid, int fileSize)
    {
        var chunks = TraceBytes.Chunks(valid).Where(c => c.Type != ChunkType.Events).ToList();
        int fixedBytes = TraceBytes.Build(chunks).Length;
        const int perBatch = TraceFormat.MaxEventsPerBatch;
        var frame = ZstdBombs.Rle(4, perBatch);
        int payload = (perBatch + TraceFormat.MaxBatchExpansion - 1) / TraceFormat.MaxBatchExpansion;
        var padded = new byte[payload];
        frame.CopyTo(padded, 0);
        // A skippable frame (magic 0x184D2A50, u32 length) fills the rest.
        BinaryPrimitives.WriteUInt32LittleEndian(padded.AsSpan(frame.Length), 0x184D2A50);
        BinaryPrimitives.WriteUInt32LittleEndian(padded.AsSpan(frame.Length + 4), (uint)(payload - frame.Length - 8));
        int perChunk = payload + 12 + TraceFormat.IndexEntrySize;
        int batches = (fileSize - fixedBytes) / perChunk;
        int end = chunks.FindIndex(c => c.Type == ChunkType.Modes);
        if (end < 0) end = chunks.Count;
        chunks.InsertRange(end, Enumerable.Range(0, batches).Select(i => new RawChunk(ChunkType.Events, padded, (ulong)i * perBatch)));
        return TraceBytes.Build(chunks, version: TraceBytes.Version(valid));
    }

    /// <summary><paramref name="valid"/> with <paramref name="fault"/> recorded before its last chunk, as a recorder that failed writes it.</summary>
    public static byte[] WithFault(byte[] valid, VmmFault fault)
    {
        var chunks = TraceBytes.Chunks(valid);
        chunks.Insert(chunks.Count - 1, new RawChunk(ChunkType.Fault, fault.ToJson(), 0));
        return TraceBytes.Build(chunks, version: TraceBytes.Version(valid));
    }

    /// <summary><paramref name="valid"/> with its HEAD JSON changed by <paramref name="edit"/>.</summary>
    public static byte[] Header(byte[] valid, Action<JsonObject> edit) =>
        TraceBytes.ReplaceFirst(valid, ChunkType.Header, json =>
        {
            var header = JsonNode.Parse(json)!.AsObject();
            edit(header);
            return System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        });

    /// <summary><paramref name="valid"/> with its first EVNT batch replaced by <paramref name="batch"/> (encoded events), compressed.</summary>
    public static byte[] Events(byte[] valid, byte[] batch)
    {
        using var compressor = new Compressor(3);
        return TraceBytes.ReplaceFirst(valid, ChunkType.Events, _ => compressor.Wrap(batch).ToArray());
    }

    // An exit event (port I/O) whose data length varint says n, followed by 16 bytes of data.
    private static byte[] ExitWithDataLength(ulong n)
    {
        var b = new List<byte> { 1, 2, 0, 0xF8, 0x07, 1, 1, 1 }; // kind, reason, RIP delta, port 0x3f8, size, flags, count
        for (; n >= 0x80; n >>= 7) b.Add((byte)(n | 0x80));
        b.Add((byte)n);
        b.AddRange(new byte[16]);
        return b.ToArray();
    }

    private static ExitEvent Poll(long instructions) => new(2, 0x7c07, 0x3fd, 1, 0, 1, [0x60]) { Instructions = instructions };

    // A batch as many events long as `payload` decodes to, all polls of one port but the last
    // event, kept: runs of repetitions at two paces.
    private static byte[] PollingRun(byte[] payload)
    {
        var original = EventCodec.Decode(ZstdFrame.Decompress(payload, TraceFormat.MaxBatchBytes, TraceFormat.MaxBatchExpansion));
        var events = Enumerable.Range(0, original.Count - 1).Select(i => (TraceEvent)Poll(i < original.Count / 2 ? 3L * i : 1000 + 5L * i)).Append(original[^1]).ToList();
        using var compressor = new Compressor(3);
        return compressor.Wrap(EventCodec.Encode(events)).ToArray();
    }

    private static ulong[] Pages(int count) => Enumerable.Range(0, count).Select(i => (ulong)i * 4096).ToArray();

    // A SNAP payload with the header's page count set to count and the page list replaced by
    // pages, with no page blocks after it.
    private static byte[] Snapshot(byte[] payload, int count, ulong[] pages)
    {
        int at = 48;
        at += 4 + BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(at)); // vCPU state
        at += 4 + BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(at)); // device state
        at += 4 + 8 * BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(at)); // service pages
        var result = new byte[at + 4 + 8 * pages.Length];
        payload.AsSpan(0, at).CopyTo(result);
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(40), count);
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(at), pages.Length);
        for (int i = 0; i < pages.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(at + 4 + 8 * i), pages[i]);
        return result;
    }
}
