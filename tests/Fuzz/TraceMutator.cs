using System.Text;
using System.Text.Json.Nodes;
using VmReplay.Recorder.Format;
using ZstdSharp;

namespace VmReplay.Fuzz;

/// <summary>
/// Mutations that reach past a trace's CRCs, compression and index to the decoders behind them:
/// a chunk's payload mutated and its CRC and the index rewritten to match; an event batch
/// decompressed, mutated and compressed again; a HEAD member set to a hostile value; chunks
/// dropped, repeated or swapped; the index edited; the file cut short. Blind byte mutations (CRC
/// failures, damaged headers) are mixed in.
/// </summary>
public static class TraceMutator
{
    private static readonly JsonNode?[] HostileValues =
        [null, "", "0", "zz", new string('x', 300), 0, -1, 4096, long.MaxValue, -9.5e300, true, new JsonArray(), new JsonArray((JsonNode?)null), new JsonObject()];

    /// <summary>A mutation of the valid trace <paramref name="trace"/>; <paramref name="other"/> is another corpus entry.</summary>
    public static byte[] Mutate(Random random, byte[] trace, byte[] other)
    {
        List<RawChunk> chunks;
        try { chunks = TraceBytes.Chunks(trace); }
        catch (TraceFormatException) { return ByteMutator.Mutate(random, trace, other); }
        if (chunks.Count == 0 || random.Next(8) == 0) return ByteMutator.Mutate(random, trace, other);
        int at = random.Next(chunks.Count);
        var chunk = chunks[at];
        switch (random.Next(7))
        {
            case 0:
                chunks[at] = chunk with { Payload = ByteMutator.Mutate(random, chunk.Payload, other) };
                break;
            case 1 when chunk.Type == ChunkType.Events || chunk.Type == ChunkType.CompressedImage || chunk.Type == ChunkType.Initrd:
                chunks[at] = chunk with { Payload = Recompressed(random, chunk.Payload, other) };
                break;
            case 2 when chunk.Type == ChunkType.Header:
                chunks[at] = chunk with { Payload = HostileHeader(random, chunk.Payload) };
                break;
            case 3:
                if (random.Next(2) == 0) chunks.RemoveAt(at);
                else chunks.Insert(random.Next(chunks.Count + 1), chunk);
                break;
            case 4:
                int other2 = random.Next(chunks.Count);
                (chunks[at], chunks[other2]) = (chunks[other2], chunks[at]);
                break;
            case 5:
                chunks[at] = chunk with { FirstEvent = random.Next(3) switch { 0 => 0, 1 => chunk.FirstEvent + (ulong)random.Next(1, 100), _ => ulong.MaxValue - (ulong)random.Next(2) } };
                break;
            default:
                var built = TraceBytes.Build(chunks, version: TraceBytes.Version(trace));
                return random.Next(2) == 0
                    ? TraceBytes.ReplaceIndex(built, index => ByteMutator.Mutate(random, index, other))
                    : built[..random.Next(built.Length)];
        }
        return TraceBytes.Build(chunks, finish: random.Next(6) != 0, version: TraceBytes.Version(trace));
    }

    // The frame's content mutated, then compressed again (or sometimes left as a raw-block frame).
    private static byte[] Recompressed(Random random, byte[] frame, byte[] other)
    {
        byte[] content;
        try
        {
            // The corpus holds decompression bombs: those are mutated as they are.
            if (Decompressor.GetDecompressedSize(frame) > 1 << 20) return ByteMutator.Mutate(random, frame, other);
            using var decompressor = new Decompressor();
            content = decompressor.Unwrap(frame).ToArray();
        }
        catch (ZstdException) { return ByteMutator.Mutate(random, frame, other); }
        var mutated = ByteMutator.Mutate(random, content, other);
        if (random.Next(4) == 0) return StoredZstdFrame.Of(mutated);
        using var compressor = new Compressor(1);
        return compressor.Wrap(mutated).ToArray();
    }

    private static byte[] HostileHeader(Random random, byte[] json)
    {
        JsonObject header;
        try { header = JsonNode.Parse(json)!.AsObject(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException) { return json; }
        var names = header.Select(kv => kv.Key).ToList();
        string name = random.Next(6) == 0 ? "InitrdSha256" : names[random.Next(names.Count)];
        var value = HostileValues[random.Next(HostileValues.Length)];
        header[name] = value?.DeepClone();
        if (random.Next(3) == 0) header.Remove(names[random.Next(names.Count)]);
        return Encoding.UTF8.GetBytes(header.ToJsonString());
    }
}
