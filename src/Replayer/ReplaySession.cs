using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Replayer;

/// <summary>
/// A replay that can be positioned anywhere in its trace (see <see cref="ReplayPosition"/>).
/// Going to a position restores the nearest snapshot at or before it (unless running on from
/// where the machine already is is shorter) and replays forward; instruction offsets are reached
/// by single-stepping only the last stretch. Every snapshot passed on the way is verified.
/// </summary>
/// <remarks>
/// The session is the one observer of every run-loop stop; it coordinates the
/// <see cref="ReplayTimeline"/> (where the machine is), the <see cref="StepCounter"/> (which stops
/// of single-stepping are instruction boundaries), the <see cref="WatchTracker"/> (watchpoint
/// hits) and the <see cref="SnapshotRestorer"/>, counts breakpoint hits and decides where to pause.
/// </remarks>
public sealed partial class ReplaySession : IDisposable
{
    private readonly TraceReader _trace;
    private readonly ReplayTimeline _timeline = new();
    private readonly StepCounter _steps;
    private readonly WatchTracker _watches;
    private readonly SnapshotRestorer _restorer;

    private ReplaySession(TraceReader trace, PcMachine machine, ReplaySources sources, Task<StoredSnapshot>? startState)
    {
        _trace = trace;
        Machine = machine;
        Sources = sources;
        _watches = new WatchTracker(machine, sources.Events);
        Verifier = new SnapshotVerifier(trace, machine, sources.Events, Differences)
        {
            PagesAdopting = (number, pages) =>
            {
                _watches.Adopting(number, pages);
                _intervalPages?.Rewritten(number);
            },
            SnapshotReached = number => _intervalPages?.Reached(number),
        };
        _restorer = new SnapshotRestorer(trace, machine, sources, Verifier, startState);
        machine.Checkpoints = Verifier;
        machine.PauseRequested = ShouldPause;
        _ = machine.Counters; // builds the run loop, and with it the host-events source
        sources.HostEvents!.Differences = Differences;
        _steps = new StepCounter(machine, sources.HostEvents);
    }

    /// <summary>
    /// The guest-memory differences met so far where all else matched (values the VMM cannot
    /// record, such as RDTSC's); set <see cref="MemoryDifferences.Strict"/> to make the first a
    /// divergence.
    /// </summary>
    public MemoryDifferences Differences { get; } = new();

    public PcMachine Machine { get; }
    public ReplaySources Sources { get; }
    public SnapshotVerifier Verifier { get; }

    /// <summary>Where the machine is now: the position last sought, or the end of the recording.</summary>
    public ReplayPosition Position { get; private set; }

    /// <summary>How the recorded run ended, once the replay reached its end; null while it can go on.</summary>
    public RunOutcome? Outcome { get; private set; }

    /// <summary>Whether seeks may restore snapshots (otherwise they replay from the start).</summary>
    public bool UseSnapshots { get; set; } = true;

    /// <summary>Snapshots restored so far (a measure of how seeks were served).</summary>
    public int Restores => _restorer.Restores;

    /// <summary>Builds the recorded machine at the start of <paramref name="trace"/>; serial output goes to <paramref name="serialOutput"/>.</summary>
    public static ReplaySession Open(TraceReader trace, string kvmPath, Stream serialOutput, CpuBackendChoice cpu = CpuBackendChoice.Auto)
    {
        var h = trace.Header;
        // The machine starts from the recorded start state, not from what this build's loader
        // makes of the image: a loader that learnt something since (a BIOS data area field)
        // must not change what an older recording replays. Such a replay does not read the
        // image and initrd chunks at all (gdb's symbol file and info do).
        bool fromStartState = trace.Snapshots.Count > 0 && (long)trace.Snapshots[0].FirstEvent == 0;
        // Snapshot 0 is read, checked and decoded on another core while the machine is built
        // (for the Linux boot a 1.8 MB chunk, 4.7 MB of pages, and a device state whose
        // serializer may still be being built from the command's start).
        var startState = fromStartState ? trace.ReadAheadOfReplay(() => trace.ReadStoredSnapshot(trace.Snapshots[0], withPages: true)) : null;
        // So is the first chunk of events after it, which the restore's cursor begins with.
        if (fromStartState) trace.ReadBatchesAhead((long)trace.Snapshots[0].FirstEvent);
        var options = new PcMachineOptions
        {
            MemorySize = h.MemorySize, VcpuCount = h.VcpuCount, Cmdline = h.Cmdline, KvmPath = kvmPath, SerialOutput = serialOutput,
            // The initrd comes from the trace as the image does: a replay needs neither original file.
            Initrd = fromStartState ? null : trace.Initrd,
            Cpu = ReplayBackend.Choose(h, cpu),
            // The guest sees the CPU it was recorded with, on either backend.
            CpuModel = CpuidLeaf.ToEntries(h.CpuModel),
            CpuidSeen = h.CpuidSeen is { } seen ? CpuidLeaf.ToEntries(seen) : null,
            // Recordings made before MsrExits was written: KVM answered most MSRs itself, and the
            // software CPU raised no #GP for an MSR the VMM refused.
            KvmAnswersMostMsrs = h.KvmAnsweredMostMsrs,
            RefusedMsrsDoNotFault = h.RefusedMsrsDidNotFault,
            TscUnrecorded = h.Backend != CpuBackendKind.Soft.Name(),
            // The recording ended at its limit, if it had one and reached it: so does the replay.
            MaxInstructions = h.MaxInstructions,
        };
        var sources = new ReplaySources(trace);
        var machine = fromStartState
            ? PcMachine.CreateUnloaded(options, sources)
            : PcMachine.Create(options, trace.Image, h.GuestName, sources);
        var session = new ReplaySession(trace, machine, sources, startState);
        if (fromStartState) session.Restore(0, counted: false);
        return session;
    }

    /// <summary>Runs to the end of the recording and returns how it ended.</summary>
    public RunOutcome RunToEnd()
    {
        if (Outcome is not null) return Outcome;
        _goal = new Goal(long.MaxValue, -1, 0);
        // Nothing can stop a run to the end, so its stops are not looked at on the way: keeping
        // the timeline at each was a tenth of a 200,000-exit replay's time. The run ends knowing
        // where it is by count, not how far past its last natural stop.
        Machine.PauseRequested = null;
        _lastRestore = -1;
        try { Outcome = Machine.Run(); }
        finally
        {
            Machine.PauseRequested = ShouldPause;
            // Where the run stopped, at its end or at a divergence: after the events consumed,
            // how far past the last natural stop unknown.
            long end = Sources.Events.Position;
            _timeline.StandAt(end);
            _timeline.LoseCount();
            if (Machine.Vcpu.InstructionsRetired is { } retired) _instructions.Observe(retired, Machine.InterruptsDelivered, complete: false);
            Position = new ReplayPosition(end, 0);
        }
        return Outcome;
    }

    /// <summary>
    /// Puts the machine at <paramref name="target"/>: <see cref="RunStopKind.Reached"/>, or
    /// <see cref="RunStopKind.RecordingEnded"/> when the recording ends before it. Throws
    /// <see cref="ReplayDivergenceException"/> on a divergence, <see cref="MissingSnapshotException"/>
    /// when the machine is past the target and the trace has no snapshot before it.
    /// </summary>
    public RunStop Seek(ReplayPosition target)
    {
        if (target.Event < 0 || target.Instructions < 0) throw new ArgumentOutOfRangeException(nameof(target), $"{target} is not a position");
        // Positions are counted from the run's natural stops (see Here): the machine can run on
        // to the target unless it has passed the target's stop already.
        var requested = target;
        target = _timeline.NamedByItsStop(target);
        bool canRunOn = Outcome is null && _timeline.IsAhead(target);
        int snapshot = UseSnapshots ? NearestSnapshot(target.Event) : canRunOn ? -1 : Math.Min(0, _trace.Snapshots.Count - 1);
        bool snapshotCloser = snapshot >= 0 && (long)_trace.Snapshots[snapshot].FirstEvent > _timeline.Anchor;
        if (snapshot >= 0 && (!canRunOn || snapshotCloser)) Restore(snapshot);
        else if (!canRunOn) throw new MissingSnapshotException(_trace.Path, target.Event);

        if (_timeline.Anchor < target.Event && RunFree(target.Event, stopAtHit: false) is { Kind: RunStopKind.RecordingEnded } ended) return ended;
        // The target's stop is the first natural stop at or after its event: the anchor now.
        long steps = target.Instructions - _timeline.Here!.Value.Instructions;
        if (steps > 0 && StepUnits(steps) is { Kind: RunStopKind.RecordingEnded } stepsEnded) return stepsEnded;
        Position = requested;
        return RunStop.Reached;
    }

    /// <summary>
    /// Where the machine is on the replay's own timeline: <c>(A, k)</c> is k instruction boundaries
    /// after the natural stop A (the first exit or recorded forced point at which A events had
    /// been consumed). Null right after a free run stopped at a breakpoint or watchpoint, until the
    /// debugger resolves it (see <see cref="HitLocation"/>).
    /// </summary>
    public ReplayPosition? Here => _timeline.Here;

    /// <summary>The last natural stop passed (the base of <see cref="Here"/>).</summary>
    public long Anchor => _timeline.Anchor;

    /// <summary>The previous natural stop before natural stop <paramref name="anchor"/>, and the instructions between (-1 when not counted), if a run saw both.</summary>
    public (long Previous, long Instructions)? LinkBefore(long anchor) => _timeline.LinkBefore(anchor);

    /// <summary>Execution breakpoints (linear addresses) that free runs and stepping watch for.</summary>
    public IReadOnlyList<ulong> Breakpoints { get; set; } = [];

    /// <summary>
    /// Watched ranges. A <see cref="WatchKind.Write"/> hit is an instruction that changes a watched
    /// value (gdb's own rule for `watch`): a free run compares the values at every natural stop
    /// and breakpoint hit, which places a change between two stops; single-stepping that stretch
    /// finds the exact instruction. (Debug-register data watchpoints do not fire on this host, and
    /// read-only memory slots lose all but the last write of instructions such as pusha.)
    /// <see cref="WatchKind.Read"/> and <see cref="WatchKind.Access"/> hits are found by decoding
    /// each instruction's memory operands before it runs, so while one is set, runs that look for
    /// hits single-step all the way (about ten times slower than a free run).
    /// <para>
    /// Memory also changes where no guest instruction writes it, and those changes are hits too,
    /// with a <see cref="HitLocation.Note"/> that says what wrote: an interrupt delivery (the
    /// frame pushed on the handler's stack; a hit at the handler's entry, and an
    /// <see cref="WatchKind.Access"/> hit even where the pushed bytes equal the old ones), and a
    /// snapshot check that takes the recorded memory where the replay computed different data
    /// (RDTSC values; a hit at the exit where the snapshot was taken).
    /// </para>
    /// </summary>
    public IReadOnlyList<WatchedRange> Watches
    {
        get => _watches.All;
        set => _watches.All = value;
    }

    /// <summary>Hits seen by the last <see cref="RunFree"/> or <see cref="StepUnits"/> with recording on, in order.</summary>
    public List<HitLocation> Hits { get; } = new();

    /// <summary>Record every breakpoint and watchpoint hit into <see cref="Hits"/> while running.</summary>
    public bool RecordHits { get; set; }

    /// <summary>
    /// Runs without single-stepping until the natural stop at event <paramref name="untilEvent"/>
    /// or, with <paramref name="stopAtHit"/>, the first hit.
    /// </summary>
    public RunStop RunFree(long untilEvent, bool stopAtHit)
    {
        // Reads leave no trace a free run could see: look at every instruction instead.
        if (_watches.WatchesAccesses && (stopAtHit || RecordHits))
            return StepUnits(long.MaxValue, untilEvent, untilHit: stopAtHit ? 1 : 0, untilWatch: stopAtHit);
        _goal = new Goal(untilEvent, StepLimit: -1, stopAtHit ? 1 : 0, stopAtHit);
        BeginRun();
        var host = Sources.HostEvents!;
        host.UserBreakpoints = stopAtHit || RecordHits ? Breakpoints : [];
        try { return RunToGoal($"event {untilEvent}"); }
        finally { host.UserBreakpoints = []; }
    }

    /// <summary>
    /// Single-steps <paramref name="count"/> instruction boundaries (or until the natural stop at
    /// <paramref name="untilEvent"/>, or the <paramref name="untilHit"/>-th hit counted from here,
    /// or with <paramref name="untilWatch"/> the first watchpoint hit).
    /// </summary>
    public RunStop StepUnits(long count, long untilEvent = long.MaxValue, int untilHit = 0, bool untilWatch = false)
    {
        _goal = new Goal(untilEvent, count, untilHit, untilWatch);
        BeginRun();
        // Standing on a breakpoint counts as reaching it, as a free run's debug register does.
        if ((untilHit > 0 || RecordHits) && IsBreakpointAt(LinearRip()) is { } b
            && Hit(new HitLocation(_hitBase, _ordinal + 1, HitKind.Breakpoint, b, At: Here)))
            return RunStop.AtHit(_stoppedAt!);
        var host = Sources.HostEvents!;
        host.SingleStep = true;
        Machine.InstructionStops = true;
        _stepping = true;
        _steps.Begin();
        _watches.BeginStepping();
        try { return RunToGoal(untilEvent == long.MaxValue ? $"{count} more instructions" : $"event {untilEvent}"); }
        finally
        {
            _stepping = false;
            host.SingleStep = false;
            Machine.InstructionStops = false;
        }
    }

    private volatile bool _interruptRequested;

    /// <summary>Asks a running free run to pause at its next natural stop (a debugger's Ctrl-C); safe from any thread.</summary>
    public void RequestInterrupt()
    {
        _interruptRequested = true;
        // A CPU that counts stops where it is, at an exact position, rather than at the next exit.
        if (CountsInstructions) Machine.Vcpu.Kick();
    }

    // What a run is for: the natural stop at Event, StepLimit boundaries (-1: no limit), the
    // StopAtHit-th breakpoint or watch-interval hit (0: none), or the first stepped watch hit.
    private readonly record struct Goal(long Event, long StepLimit, int StopAtHit, bool StopAtWatch = false);

    private Goal _goal = new(long.MaxValue, -1, 0);
    private bool _stepping;
    private bool _interrupted;
    // Breakpoint hits are counted from the hit base, the last position the run knew exactly.
    private int _ordinal;
    private ReplayPosition _hitBase;
    private HitLocation? _stoppedAt;

    private void BeginRun()
    {
        _interrupted = false;
        _stoppedAt = null;
        _ordinal = 0;
        _hitBase = Here ?? new ReplayPosition(_timeline.Anchor, -1);
        _watches.BeginRun();
    }

    private RunStop RunToGoal(string goal)
    {
        _lastRestore = -1;
        var outcome = Machine.Run();
        if (outcome.Kind == RunOutcomeKind.Paused)
            return _stoppedAt is { } hit ? RunStop.AtHit(hit) : _interrupted ? RunStop.Interrupted : RunStop.Reached;
        Outcome = outcome;
        // The machine is past the last instruction boundary counted (the final instruction
        // ended the run without a stop); a free run does not know how far past its last stop.
        if (!_stepping) _timeline.LoseCount();
        long end = Sources.Events.Position;
        Position = new ReplayPosition(end, 0);
        return RunStop.Ended(new RecordingEnd(outcome, end, goal));
    }

    // The one observer of every run-loop stop: brings the timeline up to date, looks for hits
    // and decides where to pause.
    private bool ShouldPause(StopPoint stop)
    {
        if (stop.Instructions is { } retired)
            _instructions.Observe(retired, Machine.InterruptsDelivered, complete: Machine.InstructionStops);
        if (_counted is not null) return CountedStop(stop);
        var host = Sources.HostEvents!;
        bool arrival = _stepping && _steps.Cross(stop);
        if (arrival) _timeline.CrossBoundary();
        bool natural = stop.Kind == StopKind.Exit || stop.Kind == StopKind.Debug && host.LastDebugStopHitForcedPoint || host.IsScheduledPoint(stop);
        bool userBreakpoint = !_stepping && stop.Kind == StopKind.Debug && host.LastDebugStopHitUserBreakpoint;
        bool delivered = arrival && stop.Kind == StopKind.Delivered;
        long check = Sources.Events.Position;
        // A free run sees a watched value change only at its next stop: the change lies between
        // the hit base (the last position it knows exactly) and here. Stepping looks at every
        // instruction boundary, and at natural stops that are none (a forced point before its
        // instruction ran), where a snapshot check may have rewritten memory.
        var changed = _watches.ChangeAt(look: _stepping ? arrival || natural : natural || userBreakpoint, delivered);
        var intervalBase = _hitBase;
        int intervalOrdinal = _ordinal;
        // The timeline first, so that a run paused here knows where it is.
        if (natural && _timeline.ReachNaturalStop(check, counted: _stepping))
        {
            _ordinal = 0;
            _hitBase = new ReplayPosition(check, 0);
        }
        else if (!_stepping) _timeline.LoseCount();
        if (changed is { } c && !_stepping && (RecordHits || _goal.StopAtHit > 0))
        {
            var interval = new HitLocation(intervalBase, 0, HitKind.Watch, c.Range.Address, EndEvent: natural ? check : null,
                EndBreakpointHit: userBreakpoint ? intervalOrdinal + 1 : null);
            if (RecordHits) Hits.Add(interval);
            if (_goal.StopAtHit > 0)
            {
                _stoppedAt = interval;
                return true;
            }
        }
        // Hits of the instruction just stepped are recorded even where the run ends anyway.
        if (_stepping && changed is { } s && StepHit(s)) return true;
        if (arrival && _watches.WatchesAccesses && _watches.AccessAt(delivered) is { } a && StepHit(a)) return true;
        if (natural && check >= _goal.Event) return true;
        // Only where the position is known: a natural stop that begins a new anchor.
        if (_interruptRequested && natural && Here is not null)
        {
            _interruptRequested = false;
            _interrupted = true;
            return true;
        }
        if (_stepping && _goal.StepLimit >= 0 && _steps.Crossed >= _goal.StepLimit) return true;

        HitLocation? hit = null;
        if (Breakpoints.Count > 0 && (_stepping ? arrival : userBreakpoint) && IsBreakpointAt(LinearRip()) is { } b)
            hit = new HitLocation(_hitBase, _ordinal + 1, HitKind.Breakpoint, b, At: _stepping ? Here : null);
        return hit is not null && Hit(hit);
    }

    // A watch hit found by stepping: recorded, and whether the run stops for it.
    private bool StepHit(WatchHit watch)
    {
        var hit = new HitLocation(_hitBase, 0, watch.Kind, watch.Range.Address, At: Here, Note: watch.Note);
        if (RecordHits) Hits.Add(hit);
        if (!_goal.StopAtWatch) return false;
        _stoppedAt = hit;
        return true;
    }

    // A breakpoint hit: recorded, counted, and whether it is the one the run stops at.
    private bool Hit(HitLocation hit)
    {
        _ordinal = hit.Ordinal;
        if (RecordHits) Hits.Add(hit);
        if (_goal.StopAtHit > 0 && _ordinal >= _goal.StopAtHit)
        {
            _stoppedAt = hit;
            return true;
        }
        return false;
    }

    private ulong? IsBreakpointAt(ulong linearRip)
    {
        foreach (var b in Breakpoints) if (b == linearRip) return b;
        return null;
    }

    private ulong LinearRip()
    {
        var vcpu = Machine.Vcpu;
        return VcpuState.LinearRipOf(vcpu.ReadRegisters(), vcpu.ReadSystemRegisters());
    }

    /// <summary>The last snapshot taken at or before <paramref name="eventIndex"/>, or -1.</summary>
    public int NearestSnapshot(long eventIndex) => _restorer.NearestSnapshot(eventIndex);

    /// <summary>
    /// Restores snapshot <paramref name="number"/>: its full base, then every incremental one up to
    /// it. Restoring the snapshot restored last rewrites only the pages written since.
    /// </summary>
    public void Restore(int number) => Restore(number, counted: true);

    private void Restore(int number, bool counted)
    {
        long at = _restorer.Restore(number, counted);
        _lastRestore = number;
        _intervalPages?.Restored(number);
        Outcome = null;
        Position = new ReplayPosition(at, 0);
        _timeline.StandAt(at);
        _instructions.StandAt(Machine.Vcpu.InstructionsRetired ?? 0, Machine.InterruptsDelivered);
    }

    public void Dispose() => Machine.Dispose();
}
