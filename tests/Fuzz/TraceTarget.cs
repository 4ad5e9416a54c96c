using VmReplay.Recorder;
using VmReplay.Recorder.Format;
using VmReplay.Replayer;

namespace VmReplay.Fuzz;

/// <summary>
/// What vmreplay does with a trace file before a guest runs: <c>info</c> (the header, every event
/// and snapshot header, the fault record), <c>diff</c> (two traces compared event by event, here
/// the input with itself) and the decoding a <c>replay</c> does (its event cursor, the embedded
/// image and initrd, every snapshot with its pages, the CPU modes). A trace either reads or is refused with
/// a <see cref="TraceFormatException"/>; any other exception is a finding.
/// </summary>
public static class TraceTarget
{
    /// <summary>The name messages give the input.</summary>
    public const string InputName = "input.vmtrace";

    /// <summary>Runs every reader on <paramref name="trace"/>; returns null when it read, or the one-line refusal.</summary>
    public static string? Run(byte[] trace)
    {
        try
        {
            using var reader = Open(trace);
            var summary = TraceSummary.Of(reader);
            using (var again = Open(trace))
            {
                var comparison = TraceComparison.Compare(reader, again);
                if (!comparison.Identical) throw new InvalidOperationException($"a trace compared with itself differs: {comparison.NotComparable ?? comparison.DifferenceA}");
                if (comparison.EventsA != summary.Events) throw new InvalidOperationException($"diff counted {comparison.EventsA} events, info {summary.Events}");
            }
            // Every event as a replay reads it, a batch at a time through its cursor, its first
            // chunk read ahead as a replay's is.
            reader.ReadBatchesAhead(0);
            var cursor = new EventCursor(reader.Batches(0));
            long read = 0;
            for (; cursor.Peek() is { } next; read++)
            {
                if (cursor.PeekExit(out var exit) != next is Recorder.Events.ExitEvent || cursor.PeekOther() is { } other && other != next)
                    throw new InvalidOperationException($"event {read}: the cursor's looks disagree ({next.Describe()}, exit {exit.Rip:x})");
                cursor.Advance();
            }
            if (read != summary.Events) throw new InvalidOperationException($"a replay's cursor read {read} events, info {summary.Events}");
            _ = reader.Image;
            _ = reader.Initrd;
            foreach (var chunk in reader.Snapshots) reader.ReadSnapshot(chunk, withPages: true);
            _ = reader.Modes();
            return null;
        }
        catch (TraceFormatException e)
        {
            if (e.Message.Contains('\n')) throw new InvalidOperationException($"a refusal of more than one line: {e.Message}");
            return e.Message;
        }
    }

    private static TraceReader Open(byte[] trace) => TraceReader.Open(new MemoryStream(trace, writable: false), InputName);
}
