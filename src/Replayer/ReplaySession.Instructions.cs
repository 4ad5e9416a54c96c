using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;

namespace VmReplay.Replayer;

/// <summary>
/// Positions by instruction count, where the trace was recorded on a CPU that counts retired
/// instructions and the replay runs on one (<see cref="CountsInstructions"/>). A position is then
/// a count (<see cref="InstructionPosition"/>), reached by having the vCPU stop at that count by
/// itself: no single-stepping, no register matching. Breakpoints and data watchpoints are the
/// processor's own, checked on every instruction and every access at full speed, so every hit of
/// a run is found exactly, where it happens.
/// </summary>
public sealed partial class ReplaySession
{
    private readonly InstructionTimeline _instructions = new();
    private long[]? _snapshotCounts;
    private CountedRun? _counted;
    private WatchedRange[] _armedWatches = [];

    /// <summary>
    /// Whether positions are instruction counts: the trace was recorded on the software CPU (its
    /// snapshots and scheduled points carry counts) and the replay counts too.
    /// </summary>
    public bool CountsInstructions => Machine.Vcpu.InstructionsRetired is not null && _trace.Header.Backend == CpuBackendKind.Soft.Name();

    /// <summary>Where the machine is, by instruction count (see <see cref="CountsInstructions"/>).</summary>
    public InstructionPosition At => _instructions.Here;

    /// <summary>The hit the last counted run stopped at.</summary>
    public InstructionHit? LastHit { get; private set; }

    /// <summary>The position of snapshot <paramref name="number"/>: its instruction count, before any delivery there (it is taken at an exit, before the loop delivers).</summary>
    public InstructionPosition SnapshotPosition(int number)
    {
        _snapshotCounts ??= _trace.Snapshots.Select(c => _trace.ReadSnapshot(c, withPages: false).Machine.Counters.Instructions ?? -1).ToArray();
        return new InstructionPosition(_snapshotCounts[number], 0);
    }

    /// <summary>The last snapshot at a position before or at <paramref name="target"/>, or -1.</summary>
    public int SnapshotAtOrBefore(InstructionPosition target)
    {
        for (int i = _trace.Snapshots.Count - 1; i >= 0; i--)
            if (SnapshotPosition(i) is { Instructions: >= 0 } p && p <= target) return i;
        return -1;
    }

    // Which linear pages each snapshot interval reads, writes and runs, once LearnIntervalPages is on;
    // and the snapshot last restored if the machine has not run since (-1 otherwise).
    private IntervalPages? _intervalPages;
    private int _lastRestore = -1;

    /// <summary>
    /// Learns, from here on, which linear pages each snapshot interval reads, writes and executes from as
    /// replays run through whole intervals (where the vCPU can say: <see cref="IVcpuBackend.PageLog"/>),
    /// so that <see cref="CannotHit"/> can answer. A debugger's session turns it on; a plain replay
    /// does not pay for it.
    /// </summary>
    public void LearnIntervalPages()
    {
        // One vCPU's log says what the guest did only where that vCPU is all that runs.
        if (_intervalPages is not null || !CountsInstructions || Machine.Backend.Vcpus.Count != 1 || Machine.Vcpu.PageLog is not { } log) return;
        log.Enabled = true;
        _intervalPages = new IntervalPages(log, _trace.Snapshots.Count);
        if (_lastRestore >= 0) _intervalPages.Restored(_lastRestore);
    }

    /// <summary>
    /// Whether a run from snapshot <paramref name="snapshot"/> to the next snapshot, or to here
    /// when <paramref name="endsHere"/> (the machine stands inside that interval), is known to
    /// hit nothing the debugger set: nothing is set, or the interval reads no page a read or
    /// access watch covers, writes no page a write or access watch covers and runs no instruction
    /// on a page a breakpoint is on (<see cref="LearnIntervalPages"/>).
    /// </summary>
    internal bool CannotHit(int snapshot, bool endsHere)
    {
        // Nothing set: nothing to hit anywhere.
        if (Watches.Count == 0 && Breakpoints.Count == 0) return true;
        if (_intervalPages is null) return false;
        var read = PagesOf(Watches.Where(w => w.Kind != WatchKind.Write));
        var written = PagesOf(Watches.Where(w => w.Kind != WatchKind.Read));
        var breakpoints = Breakpoints.Select(b => b & ~0xFFFUL).ToHashSet();
        return _intervalPages.Avoids(snapshot, endsHere, read, written, breakpoints);
    }

    // The linear pages the ranges lie on, as the processor's watch checks see them.
    private static HashSet<ulong> PagesOf(IEnumerable<WatchedRange> ranges) =>
        ranges.SelectMany(w => DataWatchpoint.PagesOf(w.Address, w.Length)).ToHashSet();

    /// <summary>The interrupt deliveries made at count <paramref name="count"/>, if a run has passed it.</summary>
    public int? DeliveriesAt(long count) => _instructions.DeliveriesAt(count);

    /// <summary>
    /// Puts the machine at <paramref name="target"/>: runs on when it lies ahead and no snapshot
    /// is closer, else restores the nearest snapshot at or before it and runs from there, so the
    /// time it takes is bounded by the snapshot interval, not by the trace's length.
    /// <see cref="RunStopKind.RecordingEnded"/> when the recording ends before it; a count with
    /// fewer deliveries than <paramref name="target"/> asks for is an <see cref="InvalidOperationException"/>.
    /// </summary>
    public RunStop SeekTo(InstructionPosition target)
    {
        RequireCounts();
        bool canRunOn = Outcome is null && At <= target;
        int snapshot = UseSnapshots ? SnapshotAtOrBefore(target) : canRunOn ? -1 : 0;
        if (snapshot >= 0 && (!canRunOn || SnapshotPosition(snapshot) > At)) Restore(snapshot);
        else if (!canRunOn) throw new InvalidOperationException($"{_trace.Path}: no snapshot at or before {target} to go back to");
        if (At == target) return RunStop.Reached;
        var run = new CountedRun($"{target}") { Target = target };
        return RunCounted(run, breakpoints: false, watches: false);
    }

    /// <summary>
    /// Executes one step: the next instruction, or the interrupt delivery due here. A watched
    /// access by that instruction is a <see cref="RunStopKind.Hit"/> (<see cref="LastHit"/>).
    /// </summary>
    public RunStop StepInstruction()
    {
        RequireCounts();
        var run = new CountedRun("the next instruction") { StepFrom = At, StopAtHit = true };
        return RunCounted(run, breakpoints: false, watches: true);
    }

    /// <summary>Runs to the first breakpoint or watchpoint hit (<see cref="LastHit"/>), an interrupt request, or the end.</summary>
    public RunStop ContinueToHit()
    {
        RequireCounts();
        var run = new CountedRun("a breakpoint or watchpoint hit") { StopAtHit = true, IgnoreBreakpointAtStart = true, Interruptible = true };
        return RunCounted(run, breakpoints: true, watches: true);
    }

    /// <summary>Runs to <paramref name="end"/> and returns every breakpoint and watchpoint hit on the way, in order.</summary>
    public List<InstructionHit> HitsUntil(InstructionPosition end) => ScanHits(end, interruptible: false).Hits;

    /// <summary>
    /// As <see cref="HitsUntil"/>; when <paramref name="interruptible"/>, a debugger's interrupt
    /// request ends the scan where it stands, with <c>Interrupted</c> set and the hits found so far.
    /// </summary>
    internal (List<InstructionHit> Hits, bool Interrupted) ScanHits(InstructionPosition end, bool interruptible)
    {
        RequireCounts();
        var run = new CountedRun($"{end}") { Target = end, Hits = new(), Interruptible = interruptible };
        var stop = RunCounted(run, breakpoints: true, watches: true);
        if (stop.Kind == RunStopKind.Interrupted) return (run.Hits, true);
        ReverseExecutor.Repeated(stop);
        return (run.Hits, false);
    }

    /// <summary>Whether a debugger asked for an interrupt since the last run answered one; forgets the request.</summary>
    internal bool TakeInterruptRequest()
    {
        // Cleared only once seen: a request arriving between the read and the write is the same
        // interrupt, not one to lose.
        if (!_interruptRequested) return false;
        _interruptRequested = false;
        return true;
    }

    // What a counted run is for: a position (Target), the next step from StepFrom, the first hit;
    // and what it found.
    private sealed class CountedRun(string goal)
    {
        public string Goal => goal;
        public InstructionPosition? Target { get; init; }
        public InstructionPosition? StepFrom { get; init; }
        public bool StopAtHit { get; init; }
        public bool IgnoreBreakpointAtStart { get; init; }
        // Only a run to the next hit stops for the debugger's interrupt: a seek or a scan that
        // stopped short would leave the machine somewhere its caller did not ask for.
        public bool Interruptible { get; init; }
        public List<InstructionHit>? Hits { get; init; }
        public InstructionPosition Start { get; set; }
        public InstructionHit? StoppedAt { get; set; }
        public InstructionPosition? Overshot { get; set; }
        public bool Interrupted { get; set; }

        // The count the vCPU is to stop at by itself.
        public long? StopCount => Target?.Instructions ?? StepFrom?.Instructions + 1;
    }

    private RunStop RunCounted(CountedRun run, bool breakpoints, bool watches)
    {
        var host = Sources.HostEvents!;
        run.Start = At;
        LastHit = null;
        _armedWatches = watches ? Watches.ToArray() : [];
        host.UserBreakpoints = breakpoints ? Breakpoints : [];
        host.UserWatches = _armedWatches.Select(w => new DataWatchpoint(w.Address, w.Length, Reads: w.Kind != WatchKind.Write, Writes: w.Kind != WatchKind.Read)).ToArray();
        host.ArmWatchesNow();
        host.DebuggerStop = () => run.StopCount;
        // Every delivery a stop of its own: positions after deliveries are places to stop at,
        // and the run learns how many each count it passes has.
        Machine.InstructionStops = true;
        _counted = run;
        try
        {
            _lastRestore = -1;
            var outcome = Machine.Run();
            if (run.Overshot is { } past)
                throw new InvalidOperationException($"there is no {run.Goal}: the replay went from {run.Start} to {past}");
            if (outcome.Kind == RunOutcomeKind.Paused)
            {
                LastHit = run.StoppedAt;
                return run.StoppedAt is { } hit ? new RunStop(RunStopKind.Hit) : run.Interrupted ? RunStop.Interrupted : RunStop.Reached;
            }
            Outcome = outcome;
            // The last instruction ends the run without a stop after it: the machine stands
            // before it (its exit not completed), at the count retired so far.
            _instructions.Observe(Machine.Vcpu.InstructionsRetired ?? 0, Machine.InterruptsDelivered, complete: false);
            return RunStop.Ended(new RecordingEnd(outcome, Sources.Events.Position, run.Goal));
        }
        finally
        {
            // A motion that cannot stop short ends by itself: that end answers an interrupt
            // asked for meanwhile, which must not stop the next run at its start.
            if (!run.Interruptible) _interruptRequested = false;
            _counted = null;
            _armedWatches = [];
            host.UserBreakpoints = [];
            host.UserWatches = [];
            host.DebuggerStop = null;
            Machine.InstructionStops = false;
        }
    }

    // Every run-loop stop of a counted run: where it is, what it hit, whether it pauses.
    private bool CountedStop(StopPoint stop)
    {
        var run = _counted!;
        var here = _instructions.Here;
        var hit = stop.Kind switch
        {
            StopKind.Debug => HitAt(here),
            StopKind.Delivered when stop.DeliveryWatch is { } w => WatchHitOf(w, here, here with { Deliveries = here.Deliveries - 1 }, delivery: true),
            _ => null,
        };
        if (hit is not null && !(run.IgnoreBreakpointAtStart && hit.Kind == HitKind.Breakpoint && hit.At == run.Start))
        {
            run.Hits?.Add(hit);
            if (run.StopAtHit)
            {
                run.StoppedAt = hit;
                return true;
            }
        }
        if (run.Target is { } target && here >= target)
        {
            if (here != target) run.Overshot = here;
            return true;
        }
        if (run.StepFrom is { } from && here != from) return true;
        if (run.Interruptible && _interruptRequested)
        {
            _interruptRequested = false;
            run.Interrupted = true;
            return true;
        }
        return false;
    }

    // The debugger's breakpoint or watchpoint the debug stop just now was for, if any.
    private InstructionHit? HitAt(InstructionPosition here)
    {
        var host = Sources.HostEvents!;
        if (host.LastDebugStopHitUserBreakpoint && IsBreakpointAt(LinearRip()) is { } b)
            return new InstructionHit(HitKind.Breakpoint, b, here, here);
        return Machine.Vcpu.LastDebugStop.Watch is { } w ? WatchHitOf(w, here, _instructions.Before(here.Instructions)) : null;
    }

    // A watched access found by the processor: after it is here, before it is where its
    // instruction (or delivery) began.
    private InstructionHit? WatchHitOf(DataWatchpointHit w, InstructionPosition here, InstructionPosition before, bool delivery = false)
    {
        if (w.Index >= _armedWatches.Length) return null;
        var range = _armedWatches[w.Index];
        // gdb's `watch` is about values: a write of the same bytes is no hit.
        if (range.Kind == WatchKind.Write && !w.Changed) return null;
        var kind = range.Kind switch { WatchKind.Write => HitKind.Watch, WatchKind.Read => HitKind.ReadWatch, _ => HitKind.AccessWatch };
        return new InstructionHit(kind, range.Address, here, before, delivery ? WatchTracker.DeliveryNote(range) : null);
    }

    private void RequireCounts()
    {
        if (!CountsInstructions) throw new InvalidOperationException("positions by instruction count need a trace recorded on the software CPU, replayed on it");
    }
}
