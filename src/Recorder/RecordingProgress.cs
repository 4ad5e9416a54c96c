using System.Reactive.Linq;

namespace VmReplay.Recorder;

/// <summary>A sample of a recording's progress, for a live status line.</summary>
public sealed record RecordingProgress(long Events, double EventsPerSecond, long TraceBytes, int Snapshots, TimeSpan Elapsed)
{
    /// <summary>
    /// Progress of <paramref name="writer"/> every <paramref name="interval"/>, on a timer thread.
    /// The stream only reads counters the writer keeps anyway, so observing it costs the vCPU
    /// thread nothing.
    /// </summary>
    public static IObservable<RecordingProgress> Of(TraceWriter writer, TimeSpan interval) =>
        Observable.Interval(interval)
            .Select(tick => (Elapsed: interval * (tick + 1), Events: writer.EventCount, Bytes: writer.BytesWritten, Snapshots: writer.SnapshotBytes.Count))
            .Scan((Previous: (Elapsed: TimeSpan.Zero, Events: 0L, Bytes: 0L, Snapshots: 0), Current: (Elapsed: TimeSpan.Zero, Events: 0L, Bytes: 0L, Snapshots: 0)),
                (acc, now) => (acc.Current, now))
            .Select(p => new RecordingProgress(p.Current.Events,
                (p.Current.Events - p.Previous.Events) / (p.Current.Elapsed - p.Previous.Elapsed).TotalSeconds,
                p.Current.Bytes, p.Current.Snapshots, p.Current.Elapsed));

    public string Describe() =>
        $"recording: {Events:N0} events, {EventsPerSecond:N0} events/s, trace {TraceBytes / 1024.0:N0} KiB, {Snapshots} snapshots, {Elapsed.TotalSeconds:0.0} s";
}
