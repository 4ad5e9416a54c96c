using VmReplay.Recorder.Events;
using VmReplay.Recorder.Faults;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder;

/// <summary>
/// What <c>vmreplay info</c> shows of a trace: event counts by kind, guest time, snapshots,
/// sizes, the outcome and any VMM fault. Reading it decodes every event and snapshot header
/// (not the pages), so it also checks that all of them decode.
/// </summary>
public sealed record TraceSummary(
    long Events,
    IReadOnlyDictionary<string, long> EventsByKind,
    long LastClockNanoseconds,
    EndEvent? End,
    int Snapshots,
    int FullSnapshots,
    long FirstSnapshotEvent,
    long LastSnapshotEvent,
    long SnapshotBytes,
    long SnapshotPageBytes,
    long EventChunkBytes,
    VmmFault? Fault)
{
    /// <summary>Reads the summary of <paramref name="trace"/>; throws <see cref="TraceFormatException"/> for a chunk that does not decode.</summary>
    public static TraceSummary Of(TraceReader trace)
    {
        // Counted in locals and named once at the end: a trace may hold millions of events.
        var exits = new Dictionary<uint, long>();
        var others = new Dictionary<Type, long>();
        long clocks = 0, inputs = 0, services = 0, forced = 0, ends = 0;
        EndEvent? end = null;
        long events = 0, lastClock = 0;
        foreach (var e in trace.Events())
        {
            events++;
            switch (e)
            {
                case ServiceEvent: services++; break;
                case ExitEvent x: exits[x.Reason] = exits.GetValueOrDefault(x.Reason) + 1; break;
                case ClockEvent c: clocks++; lastClock = c.Nanoseconds; break;
                case InputEvent: inputs++; break;
                case ForcedServiceEvent: forced++; break;
                case EndEvent ee: ends++; end = ee; break;
                default: others[e.GetType()] = others.GetValueOrDefault(e.GetType()) + 1; break;
            }
        }
        var counts = new SortedDictionary<string, long>();
        foreach (var (reason, n) in exits) counts["exit " + (ExitReason)reason] = n;
        foreach (var (name, n) in new[] { ("Clock", clocks), ("Input", inputs), ("Service", services), ("ForcedService", forced), ("End", ends) })
            if (n > 0) counts[name] = n;
        foreach (var (type, n) in others) counts[type.Name.Replace("Event", "")] = n;

        int snapshots = 0, full = 0;
        long firstAt = 0, lastAt = 0, snapshotBytes = 0, pageBytes = 0;
        foreach (var chunk in trace.Snapshots)
        {
            var s = trace.ReadSnapshot(chunk, withPages: false);
            if (snapshots == 0) firstAt = s.EventIndex;
            lastAt = s.EventIndex;
            snapshots++;
            if (s.Kind == SnapshotKind.Full) full++;
            snapshotBytes += chunk.PayloadLength;
            pageBytes += (long)s.Pages.Length * 4096;
        }
        long eventBytes = trace.EventChunks.Sum(c => (long)c.PayloadLength);
        return new TraceSummary(events, counts, lastClock, end, snapshots, full, firstAt, lastAt, snapshotBytes, pageBytes, eventBytes, trace.Fault());
    }
}
