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
    public TimeSpan CaptureTime => new(_captureTicks);

    // Not a TimeSpan: a framework struct field would leave the class's layout outside the
    // ReadyToRun version bubble, and NextDue, asked at nearly every exit, look up each field's offset.
    private long _captureTicks;

    // The policy is applied once per snapshot, as the exit count and the guest time from which
    // the next one is due (long.MaxValue: never by this measure). Due by exits alone, the run
    // loop asks again at the exit named; by guest time, at every exit.
    public long NextDue(long exitCount)
    {
        if (exitCount >= _dueExit || (_dueNanoseconds != long.MaxValue && _clock.LastReading >= _dueNanoseconds)) return exitCount;
        return _dueNanoseconds == long.MaxValue ? _dueExit : exitCount + 1;
    }

    // A snapshot due by time waits for the next exit, as it always has where exits come often:
    // the run loop stops the guest only once a further interval has passed without one. In a
    // stretch without exits (the last snapshot was taken at no more exits than the one before)
    // it is taken where it falls due. Stopping the guest at every due time instead (tried) made
    // gdb's reverse-stepi and reverse-continue at the end of the 100M-instruction ticks trace
    // take 38-55 and 76-109 ms instead of 24-25 and 50 (bench time-travel, alternating builds).
    public long? DueNanoseconds =>
        _dueNanoseconds == long.MaxValue ? null : _exitsSinceLast ? Saturated(_dueNanoseconds, _policy.Nanoseconds!.Value) : _dueNanoseconds;

    // Whether the guest made exits between the last two snapshots (a snapshot at the start counts as made after some).
    private bool _exitsSinceLast = true;
    private long _lastExitCount = -1;

    public void Reached(long exitCount)
    {
        long started = Stopwatch.GetTimestamp();
        var state = _machine.CaptureState();
        // KVM leaves an exception an exit raised (#GP for an MSR the VMM refuses) pending until
        // the guest runs again: the vCPU is at the faulting instruction, where the software CPU,
        // which raises it as the instruction completes, is already in the handler. A snapshot
        // there could be neither compared nor restored on the software CPU; it waits for the
        // next exit, still due. (The software CPU never holds one here.)
        if (state.Vcpu.Events.ExceptionPending != 0 || state.Vcpu.Events.ExceptionInjected != 0)
        {
            _captureTicks += Stopwatch.GetElapsedTime(started).Ticks;
            return;
        }
        bool full = Count == 0;
        long now = _clock.LastReading;
        var memory = _machine.Memory;
        // A full snapshot holds every non-zero page: a restore starts from zeroed RAM.
        var pages = (full ? _machine.Backend.DirtyLog!.NonZeroPages() : _written.Pages()).ToArray();
        _written.Reset();
        // Where the backend sees every write, the pages are copied as the guest is about to
        // change them or on the writer thread, not here.
        var lazy = _machine.Backend.CopyPagesLazily(pages);
        var data = lazy is null ? Snapshot.CopyPages(memory, pages) : [];
        var service = _serviceTracker()?.Pages() ?? [];
        _writer.AppendSnapshot(new Snapshot(full ? SnapshotKind.Full : SnapshotKind.Incremental, _writer.EventCount, exitCount,
            now, MemoryHash: 0, state, service.ToArray(), pages, data), lazy);
        _dueExit = _policy.Exits is { } n ? Saturated(exitCount, n) : long.MaxValue;
        _dueNanoseconds = _policy.Nanoseconds is { } ns ? Saturated(now, ns) : long.MaxValue;
        _exitsSinceLast = exitCount != _lastExitCount;
        _lastExitCount = exitCount;
        Count++;
        _captureTicks += Stopwatch.GetElapsedTime(started).Ticks;
    }

    private static long Saturated(long from, long interval) => interval > long.MaxValue - from ? long.MaxValue : from + interval;
}
