using System.Diagnostics;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// Takes a recording's snapshots at run-loop checkpoints: a full one at the start, then
/// incremental ones (pages written since the previous snapshot) as the policy says or on
/// demand. On the vCPU thread it only copies state and pages; hashing, compression and writing
/// happen on the trace writer's thread.
/// </summary>
public sealed class SnapshotRecorder : IRunCheckpoints
{
    private readonly PcMachine _machine;
    private readonly TraceWriter _writer;
    private readonly SnapshotPolicy _policy;
    private readonly RecordingClock _clock;
    private readonly Func<DirtyPageTracker?> _serviceTracker;
    private readonly DirtyPageTracker _written;
    private long _dueExit = long.MinValue, _dueNanoseconds = long.MaxValue;
    private volatile bool _requested;

    public SnapshotRecorder(PcMachine machine, TraceWriter writer, SnapshotPolicy policy, RecordingClock clock, Func<DirtyPageTracker?> serviceTracker)
    {
        _machine = machine;
        _writer = writer;
        _policy = policy;
        _clock = clock;
        _serviceTracker = serviceTracker;
        _written = machine.Backend.DirtyLog?.CreateTracker() ?? throw new InvalidOperationException("snapshots need a VM with dirty logging");
    }

    /// <summary>Snapshots taken.</summary>
    public int Count { get; private set; }

    /// <summary>Time the vCPU thread spent capturing snapshots (the recorder's own cost, not guest time).</summary>
    public TimeSpan CaptureTime { get; private set; }

    /// <summary>Asks for a snapshot at the next checkpoint. Any thread.</summary>
    public void Request() => _requested = true;

    // Asked at every exit: the policy is applied once per snapshot, as the exit count and the
    // guest time from which the next one is due (long.MaxValue: never by this measure).
    public bool IsDue(long exitCount) =>
        exitCount >= _dueExit || _requested || (_dueNanoseconds != long.MaxValue && _clock.LastReading >= _dueNanoseconds);

    public long? DueNanoseconds => _dueNanoseconds == long.MaxValue ? null : _dueNanoseconds;

    public void Reached(long exitCount)
    {
        long started = Stopwatch.GetTimestamp();
        bool full = Count == 0;
        long now = _clock.LastReading;
        var memory = _machine.Memory;
        // A full snapshot holds every non-zero page: a restore starts from zeroed RAM.
        var pages = (full ? memory.NonZeroPages() : _written.Pages()).ToArray();
        _written.Reset();
        // Where the backend sees every write, the pages are copied as the guest is about to
        // change them or on the writer thread, not here.
        var lazy = _machine.Backend.CopyPagesLazily(pages);
        var data = lazy is null ? Snapshot.CopyPages(memory, pages) : [];
        var service = _serviceTracker()?.Pages() ?? [];
        _writer.AppendSnapshot(new Snapshot(full ? SnapshotKind.Full : SnapshotKind.Incremental, _writer.EventCount, exitCount,
            now, MemoryHash: 0, _machine.CaptureState(), service.ToArray(), pages, data), lazy);
        _dueExit = _policy.Exits is { } n ? Saturated(exitCount, n) : long.MaxValue;
        _dueNanoseconds = _policy.Nanoseconds is { } ns ? Saturated(now, ns) : long.MaxValue;
        _requested = false;
        Count++;
        CaptureTime += Stopwatch.GetElapsedTime(started);
    }

    private static long Saturated(long from, long interval) => interval > long.MaxValue - from ? long.MaxValue : from + interval;
}
