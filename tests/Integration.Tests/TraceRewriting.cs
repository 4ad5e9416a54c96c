using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Integration.Tests;

/// <summary>Traces altered on purpose, chunk by chunk with valid CRCs, to check how a replay meets a recording it cannot follow.</summary>
internal static class TraceRewriting
{
    /// <summary>Copies a trace with the first event <paramref name="change"/> rewrites (valid CRCs); returns its index, or -1.</summary>
    public static long FirstEvent(string from, string to, Func<TraceEvent, TraceEvent?> change)
    {
        using var reader = TraceFileReader.Open(from);
        using var writer = new ChunkWriter(File.Create(to));
        long changed = -1, index = 0;
        foreach (var chunk in reader.Chunks.Where(c => c.Type != ChunkType.Index))
        {
            var payload = reader.ReadPayload(chunk);
            if (chunk.Type == ChunkType.Events && changed < 0)
            {
                var events = EventCodec.Decode(new ZstdSharp.Decompressor().Unwrap(payload));
                for (int i = 0; i < events.Count && changed < 0; i++)
                    if (change(events[i]) is { } replacement)
                    {
                        events[i] = replacement;
                        changed = index + i;
                    }
                index += events.Count;
                payload = new ZstdSharp.Compressor().Wrap(EventCodec.Encode(events)).ToArray();
            }
            writer.Write(chunk.Type, payload, chunk.FirstEvent);
        }
        writer.Finish();
        return changed;
    }
}
