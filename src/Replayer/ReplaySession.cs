using VmReplay.Devices.Platform;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
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
public sealed class ReplaySession : IDisposable
{
    private readonly TraceReader _trace;

    private ReplaySession(TraceReader trace, PcMachine machine, ReplaySources sources)
    {
        _trace = trace;
        Machine = machine;
        Sources = sources;
        Verifier = new SnapshotVerifier(trace, machine, sources.Events, Differences)
        {
            PagesAdopted = pages => _writtenSinceRestore?.Add(pages),
            PagesAdopting = Adopting,
        };
        machine.Checkpoints = Verifier;
        machine.PauseRequested = ShouldPause;
        _ = machine.Counters; // builds the run loop, and with it the host-events source
        sources.HostEvents!.Differences = Differences;
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

    /// <summary>Where the machine is now.</summary>
    public ReplayPosition Position { get; private set; }

    /// <summary>How the recorded run ended, once the replay reached its end; null while it can go on.</summary>
    public RunOutcome? Outcome { get; private set; }

    /// <summary>Whether seeks may restore snapshots (otherwise they replay from the start).</summary>
    public bool UseSnapshots { get; set; } = true;

    /// <summary>Snapshots restored so far (a measure of how seeks were served).</summary>
    public int Restores { get; private set; }

    /// <summary>Builds the recorded machine at the start of <paramref name="trace"/>; serial output goes to <paramref name="serialOutput"/>.</summary>
    public static ReplaySession Open(TraceReader trace, string kvmPath, Stream serialOutput, CpuBackendChoice cpu = CpuBackendChoice.Auto)
    {
        var h = trace.Header;
        // The initrd comes from the trace as the image does: a replay needs neither original file.
        var options = new PcMachineOptions
        {
            MemorySize = h.MemorySize, VcpuCount = h.VcpuCount, Cmdline = h.Cmdline, Initrd = trace.Initrd, KvmPath = kvmPath, SerialOutput = serialOutput,
            Cpu = ReplayBackend.Choose(h, cpu),
        };
        var sources = new ReplaySources(trace);
        var machine = PcMachine.Create(options, trace.Image, h.GuestName, sources);
        return new ReplaySession(trace, machine, sources);
    }

    /// <summary>Runs to the end of the recording and returns how it ended.</summary>
    public RunOutcome RunToEnd()
    {
        if (Outcome is not null) return Outcome;
        _goal = new Goal(long.MaxValue, -1, 0);
        return Outcome = Machine.Run();
    }

    /// <summary>
    /// Puts the machine at <paramref name="target"/>. Throws <see cref="ArgumentOutOfRangeException"/>
    /// when the recording ends before it, <see cref="ReplayDivergenceException"/> on a divergence.
    /// </summary>
    public void Seek(ReplayPosition target)
    {
        if (target.Event < 0 || target.Instructions < 0) throw new ArgumentOutOfRangeException(nameof(target), $"{target} is not a position");
        // Positions are counted from the run's natural stops (see Here): the machine can run on
        // to the target unless it has passed the target's stop already. An event consumed at the
        // stop the machine stands on (a stop consumes several) names that same stop.
        var requested = target;
        if (target.Event < _anchor && _links.TryGetValue(_anchor, out var link) && target.Event > link.Previous)
            target = target with { Event = _anchor };
        bool canRunOn = Outcome is null && (target.Event > _anchor || target.Event == _anchor && _unitsKnown && target.Instructions >= _units);
        int snapshot = UseSnapshots ? NearestSnapshot(target.Event) : canRunOn ? -1 : Math.Min(0, _trace.Snapshots.Count - 1);
        bool snapshotCloser = snapshot >= 0 && (long)_trace.Snapshots[snapshot].FirstEvent > _anchor;
        if (snapshot >= 0 && (!canRunOn || snapshotCloser)) Restore(snapshot);
        else if (!canRunOn) throw new InvalidOperationException($"{_trace.Path}: no snapshot at or before event {target.Event} to go back to");

        if (_anchor < target.Event) RunFree(target.Event, stopAtHit: false);
        // The target's stop is the first natural stop at or after its event: the anchor now.
        long steps = target.Instructions - _units;
        if (steps > 0) StepUnits(steps);
        Position = requested;
    }

    /// <summary>
    /// Where the machine is on the replay's own timeline: <c>(A, k)</c> is k instruction boundaries
    /// after the natural stop A (the first exit or recorded forced point at which A events had
    /// been consumed). Null right after a free run stopped at a breakpoint or watchpoint, until the
    /// debugger resolves it (see <see cref="HitLocation"/>).
    /// </summary>
    public ReplayPosition? Here => _unitsKnown ? new ReplayPosition(_anchor, _units) : null;

    /// <summary>The last natural stop passed (the base of <see cref="Here"/>).</summary>
    public long Anchor => _anchor;

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
        get => [.. _watches, .. _accessWatches];
        set
        {
            _watches = value.Where(w => w.Kind == WatchKind.Write).ToArray();
            _accessWatches = value.Where(w => w.Kind != WatchKind.Write).ToArray();
            _watchValues = _watches.Select(ReadWatched).ToArray();
        }
    }

    /// <summary>Hits seen by the last <see cref="RunFree"/> or <see cref="StepUnits"/> with recording on, in order.</summary>
    public List<HitLocation> Hits { get; } = new();

    /// <summary>Record every breakpoint and watchpoint hit into <see cref="Hits"/> while running.</summary>
    public bool RecordHits { get; set; }

    /// <summary>The previous natural stop before natural stop <paramref name="anchor"/>, and the instructions between (-1 when not counted), if a run saw both.</summary>
    public (long Previous, long Instructions)? LinkBefore(long anchor) => _links.TryGetValue(anchor, out var l) ? l : null;

    /// <summary>
    /// Runs without single-stepping until the natural stop at event <paramref name="untilEvent"/>
    /// or, with <paramref name="stopAtHit"/>, the first hit. Returns the hit, or null at the target.
    /// </summary>
    public HitLocation? RunFree(long untilEvent, bool stopAtHit)
    {
        // Reads leave no trace a free run could see: look at every instruction instead.
        if (_accessWatches.Length > 0 && (stopAtHit || RecordHits))
            return StepUnits(long.MaxValue, untilEvent, untilHit: stopAtHit ? 1 : 0, untilWatch: stopAtHit);
        _goal = new Goal(untilEvent, StepLimit: -1, stopAtHit ? 1 : 0, stopAtHit);
        BeginHits();
        var host = Sources.HostEvents!;
        host.UserBreakpoints = stopAtHit || RecordHits ? Breakpoints : [];
        try { RunGoal($"event {untilEvent}"); }
        finally { host.UserBreakpoints = []; }
        return _stoppedAt;
    }

    /// <summary>
    /// Single-steps <paramref name="count"/> instruction boundaries (or until the natural stop at
    /// <paramref name="untilEvent"/>, or the <paramref name="untilHit"/>-th hit counted from here).
    /// </summary>
    public HitLocation? StepUnits(long count, long untilEvent = long.MaxValue, int untilHit = 0, bool untilWatch = false)
    {
        _goal = new Goal(untilEvent, count, untilHit, untilWatch);
        BeginHits();
        if (untilHit > 0 || RecordHits)
        {
            // Standing on a breakpoint counts as reaching it, as a free run's debug register does.
            if (IsBreakpointAt(LinearRip()) is { } b && Hit(new HitLocation(_hitBase, _ordinal + 1, HitKind.Breakpoint, b, At: Here))) return _stoppedAt;
        }
        var host = Sources.HostEvents!;
        host.SingleStep = true;
        Machine.InstructionStops = true;
        _stepping = true;
        _emulatedSeen = Machine.Counters.EmulatedInstructions;
        _trapAfterExitAt = null;
        _pendingAccesses = NextAccesses();
        try { RunGoal(untilEvent == long.MaxValue ? $"{count} more instructions" : $"event {untilEvent}"); }
        finally
        {
            _stepping = false;
            host.SingleStep = false;
            Machine.InstructionStops = false;
        }
        return _stoppedAt;
    }

    private volatile bool _interruptRequested;

    /// <summary>Asks a running free run to pause at its next natural stop (a debugger's Ctrl-C); safe from any thread.</summary>
    public void RequestInterrupt() => _interruptRequested = true;

    /// <summary>Whether the last run paused because of <see cref="RequestInterrupt"/>.</summary>
    public bool Interrupted { get; private set; }

    private readonly record struct Goal(long Event, long StepLimit, int StopAtHit, bool StopAtWatch = false);

    private Goal _goal = new(long.MaxValue, -1, 0);
    private bool _stepping;
    private long _stepsDone;
    private long _anchor = 0;
    private long _units;
    private bool _unitsKnown = true;
    private int _ordinal;
    private ReplayPosition _hitBase;
    private HitLocation? _stoppedAt;
    private long _emulatedSeen;
    private ulong? _trapAfterExitAt;
    private WatchedRange[] _watches = [];
    private WatchedRange[] _accessWatches = [];
    private IReadOnlyList<MemoryAccess> _pendingAccesses = [];
    private byte[][] _watchValues = [];
    private Adoption? _adoption;
    private readonly Dictionary<long, (long Previous, long Instructions)> _links = new();
    private RestoredImage? _image;
    private DirtyPageTracker? _writtenSinceRestore;

    private void BeginHits()
    {
        Interrupted = false;
        _stepsDone = 0;
        _stoppedAt = null;
        _ordinal = 0;
        _hitBase = Here ?? new ReplayPosition(_anchor, -1);
        _adoption = null;
        // Changes made before this run (a seek, a restore) are not hits of it.
        for (int i = 0; i < _watches.Length; i++) _watchValues[i] = ReadWatched(_watches[i]);
    }

    private void RunGoal(string what)
    {
        var outcome = Machine.Run();
        if (outcome.Kind != RunOutcomeKind.Paused)
        {
            Outcome = outcome;
            // The machine is past the last instruction boundary counted (the final instruction
            // ended the run without a stop); a free run does not know how far past its last stop.
            if (!_stepping) _unitsKnown = false;
            Position = new ReplayPosition(Sources.Events.Position, 0);
            throw new ArgumentOutOfRangeException(nameof(what),
                $"the recording ends ({outcome.Message}) at event {Sources.Events.Position}, before {what}");
        }
    }

    // The one observer of every run-loop stop. It keeps the timeline (natural stops, instruction
    // boundaries since the last one), counts hits and decides where to pause.
    //
    // Natural stops are the exits and the recorded forced points (where DR0 fires): they happen
    // in every replay, free-running or stepping, with or without a debugger's breakpoints, so
    // positions counted from them mean the same machine state in every replay.
    private bool ShouldPause(StopPoint stop)
    {
        var host = Sources.HostEvents!;
        bool arrival = _stepping && CountArrival(stop);
        if (arrival)
        {
            _units++;
            _stepsDone++;
        }
        bool natural = stop.Kind == StopKind.Exit || stop.Kind == StopKind.Debug && host.LastDebugStopHitForcedPoint;
        bool userBreakpoint = !_stepping && stop.Kind == StopKind.Debug && host.LastDebugStopHitUserBreakpoint;
        bool delivered = arrival && stop.Kind == StopKind.Delivered;
        long check = Sources.Events.Position;
        // Pages a snapshot check rewrote from the recording belong to this stop only.
        var adoption = _adoption;
        _adoption = null;
        // A free run sees a watched value change only at its next stop: the change lies between
        // the hit base (the last position it knows exactly) and here. Stepping looks at every
        // instruction boundary, and at natural stops that are none (a forced point before its
        // instruction ran), where a snapshot check may have rewritten memory.
        var changed = (_stepping ? arrival || natural : natural || userBreakpoint) ? ChangedWatch(adoption, delivered) : null;
        var intervalBase = _hitBase;
        int intervalOrdinal = _ordinal;
        // The timeline first, so that a run paused here knows where it is.
        if (natural && check > _anchor)
        {
            _links[check] = (_anchor, _stepping && _unitsKnown ? _units : -1);
            _anchor = check;
            _units = 0;
            _unitsKnown = true;
            _ordinal = 0;
            _hitBase = new ReplayPosition(check, 0);
        }
        else if (!_stepping) _unitsKnown = false;
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
        if (_stepping && changed is { } s && StepHit(new HitLocation(_hitBase, 0, HitKind.Watch, s.Range.Address, At: Here, Note: s.Note))) return true;
        if (_stepping && arrival && _accessWatches.Length > 0)
        {
            // An interrupt delivery ran nothing of the instruction whose accesses were pending;
            // it wrote the interrupt frame instead.
            var executed = delivered ? DeliveryFrame() : _pendingAccesses;
            _pendingAccesses = NextAccesses();
            if (AccessedWatch(executed) is { } w
                && StepHit(new HitLocation(_hitBase, 0, w.Kind == WatchKind.Read ? HitKind.ReadWatch : HitKind.AccessWatch, w.Address, At: Here,
                    Note: delivered ? DeliveryNote(w) : null))) return true;
        }
        if (natural && check >= _goal.Event) return true;
        // Only where the position is known: a natural stop that begins a new anchor.
        if (_interruptRequested && natural && _unitsKnown)
        {
            _interruptRequested = false;
            Interrupted = true;
            return true;
        }
        if (_stepping && _goal.StepLimit >= 0 && _stepsDone >= _goal.StepLimit) return true;

        HitLocation? hit = null;
        if (Breakpoints.Count > 0 && (_stepping ? arrival : userBreakpoint) && IsBreakpointAt(LinearRip()) is { } b)
            hit = new HitLocation(_hitBase, _ordinal + 1, HitKind.Breakpoint, b, At: _stepping ? Here : null);
        return hit is not null && Hit(hit);
    }

    // A watch hit found by stepping: recorded, and whether the run stops for it.
    private bool StepHit(HitLocation hit)
    {
        if (RecordHits) Hits.Add(hit);
        if (!_goal.StopAtWatch) return false;
        _stoppedAt = hit;
        return true;
    }

    // The memory the instruction at RIP will touch, when read or access watches need it.
    private IReadOnlyList<MemoryAccess> NextAccesses()
    {
        if (_accessWatches.Length == 0) return [];
        var vcpu = Machine.Vcpu;
        var state = new VcpuState { Regs = vcpu.ReadRegisters(), Sregs = vcpu.ReadSystemRegisters() };
        return InstructionMemoryAccesses.Of(state, Machine.Memory);
    }

    private WatchedRange? AccessedWatch(IReadOnlyList<MemoryAccess> accesses)
    {
        foreach (var w in _accessWatches)
            foreach (var a in accesses)
                if ((a.Reads || w.Kind == WatchKind.Access) && a.Overlaps(w.Address, w.Length)) return w;
        return null;
    }

    private byte[] ReadWatched(WatchedRange w)
    {
        var bytes = new byte[w.Length];
        int at = 0;
        foreach (var (gpa, length) in w.Physical)
        {
            Machine.Memory.TryRead(gpa, bytes.AsSpan(at, length));
            at += length;
        }
        return bytes;
    }

    // The first watched range whose value differs from the last look (all are brought up to
    // date), and what changed it when no guest instruction did.
    private (WatchedRange Range, string? Note)? ChangedWatch(Adoption? adoption, bool delivered)
    {
        (WatchedRange, string?)? first = null;
        for (int i = 0; i < _watches.Length; i++)
        {
            var now = ReadWatched(_watches[i]);
            if (now.AsSpan().SequenceEqual(_watchValues[i])) continue;
            _watchValues[i] = now;
            if (first is not null) continue;
            string? note = null;
            if (adoption is not null && adoption.Before.TryGetValue(_watches[i], out var replayed) && !replayed.AsSpan().SequenceEqual(now))
                note = AdoptionNote(_watches[i], adoption, replayed, now);
            else if (delivered)
                note = DeliveryNote(_watches[i]);
            first = (_watches[i], note);
        }
        return first;
    }

    // The snapshot check at this stop is about to take the recorded bytes of these pages: keep
    // the replay's own value of every watched range on them, to tell that write from the guest's.
    private void Adopting(int snapshot, IReadOnlyList<ulong> pages)
    {
        var before = new Dictionary<WatchedRange, byte[]>();
        foreach (var w in _watches)
            if (w.Physical.Any(p => pages.Any(page => p.Gpa < page + GuestMemory.PageSize && page < p.Gpa + (ulong)p.Length)))
                before[w] = ReadWatched(w);
        _adoption = before.Count > 0 ? new Adoption(snapshot, Sources.Events.Position, before) : null;
    }

    private sealed record Adoption(int Snapshot, long Event, Dictionary<WatchedRange, byte[]> Before);

    private static string AdoptionNote(WatchedRange w, Adoption a, byte[] replayed, byte[] recorded) =>
        $"vmreplay: watchpoint 0x{w.Address:x}: no guest instruction wrote this value. At the VM exit of the instruction " +
        $"next to this stop (event {a.Event}) the replay checked the recording's snapshot {a.Snapshot}, which holds " +
        $"{Convert.ToHexString(recorded)} at this address where this pass of the replay had computed {Convert.ToHexString(replayed)}, " +
        "and took the recorded bytes. The guest derived them from a value vmreplay cannot record (RDTSC; see README, \"RDTSC\"), " +
        "which differs on every pass; reverse-continue goes on to the guest's own store.\n";

    private static string DeliveryNote(WatchedRange w) =>
        $"vmreplay: watchpoint 0x{w.Address:x}: written by the delivery of an external interrupt (the frame pushed on the handler's stack), " +
        "not by an instruction: forward, the stop is at the handler's first instruction; in reverse, at the interrupted one.\n";

    // The interrupt frame a delivery just pushed, from the state at the handler's entry (SDM
    // vol. 3A 6.12, 6.14): 64-bit mode pushes SS, RSP, RFLAGS, CS, RIP (40 bytes); protected
    // mode EFLAGS, CS, EIP and, from an outer privilege level, SS and ESP (32-bit gates); real
    // mode FLAGS, CS, IP.
    private IReadOnlyList<MemoryAccess> DeliveryFrame()
    {
        var vcpu = Machine.Vcpu;
        var state = new VcpuState { Regs = vcpu.ReadRegisters(), Sregs = vcpu.ReadSystemRegisters() };
        var s = state.Sregs;
        if ((s.Cr0 & 1) == 0) return [new MemoryAccess(s.Ss.Base + (state.Regs.Rsp & 0xFFFF), 6, false, true)];
        if ((s.Efer & (1UL << 10)) != 0) return [new MemoryAccess(state.Regs.Rsp, 40, false, true)];
        ulong sp = s.Ss.Db != 0 ? state.Regs.Rsp & 0xFFFF_FFFF : state.Regs.Rsp & 0xFFFF;
        ulong linear = (s.Ss.Base + sp) & 0xFFFF_FFFF;
        int size = 12;
        var t = PageWalker.Translate(Machine.Memory, state.Paging, (linear + 4) & 0xFFFF_FFFF);
        Span<byte> cs = stackalloc byte[2];
        if (t.IsValid && Machine.Memory.TryRead(t.PhysicalAddress, cs) && (cs[0] & 3) != (s.Cs.Selector & 3)) size = 20;
        return [new MemoryAccess(linear, size, false, true)];
    }

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

    // Whether this stop ends one instruction boundary of single-stepping. An instruction that exits
    // to the VMM (I/O, MMIO, MSR, HLT) is counted at its exit, since this host's KVM
    // drops the step trap of an instruction it completes after the exit; where a host does deliver
    // that trap it arrives at the address the exit left, with nothing executed, and is not counted
    // again. An interrupt delivery is a boundary of its own: the handler's entry, nothing run yet.
    private bool CountArrival(StopPoint stop)
    {
        var vcpu = Machine.Vcpu;
        long emulated = Machine.Counters.EmulatedInstructions;
        bool emulatedNow = emulated != _emulatedSeen;
        _emulatedSeen = emulated;
        switch (stop.Kind)
        {
            case StopKind.Debug:
                bool ownTrap = _trapAfterExitAt == vcpu.ReadRegisters().Rip;
                _trapAfterExitAt = null;
                return Sources.HostEvents!.LastDebugStopWasStep && !ownTrap;
            case StopKind.Exit when emulatedNow:
                return true;
            case StopKind.Exit when Machine.LastExit is VcpuExitKind.PortIo or VcpuExitKind.Mmio
                     or VcpuExitKind.Halt or VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite:
                _trapAfterExitAt = vcpu.ReadRegisters().Rip;
                return true;
            case StopKind.Delivered:
                return true;
            default:
                return false;
        }
    }

    /// <summary>The last snapshot taken at or before <paramref name="eventIndex"/>, or -1.</summary>
    public int NearestSnapshot(long eventIndex)
    {
        var snaps = _trace.Snapshots;
        for (int i = snaps.Count - 1; i >= 0; i--)
            if ((long)snaps[i].FirstEvent <= eventIndex) return i;
        return -1;
    }

    /// <summary>
    /// Restores snapshot <paramref name="number"/>: its full base, then every incremental one up to
    /// it. Restoring the snapshot restored last rewrites only the pages written since.
    /// </summary>
    public void Restore(int number)
    {
        var memory = Machine.Memory;
        if (_image?.Number == number && _writtenSinceRestore is not null)
            _image.Rewrite(memory, _writtenSinceRestore.Pages());
        else
        {
            var chain = new List<Snapshot>();
            for (int i = number; i >= 0; i--)
            {
                var s = _trace.ReadSnapshot(_trace.Snapshots[i], withPages: true);
                chain.Add(s);
                if (s.Kind == SnapshotKind.Full) break;
            }
            if (chain[^1].Kind != SnapshotKind.Full)
                throw new Recorder.Format.TraceFormatException($"{_trace.Path}: snapshot {number} has no full snapshot before it");
            chain.Reverse();
            _image = new RestoredImage(number, chain);
            _image.WriteAll(memory);
        }
        var target = _image.Target;
        Machine.RestoreState(target.Machine);
        _writtenSinceRestore ??= Machine.Backend.DirtyLog!.CreateTracker();
        Machine.Backend.DirtyLog!.Discard();
        var host = Sources.HostEvents!;
        host.ServiceTracker.Add(target.ServicePages);
        host.Restored();
        Sources.Events.Reset(_trace.Events(target.EventIndex), target.EventIndex);
        Verifier.ContinueAfter(number);
        Outcome = null;
        Position = new ReplayPosition(target.EventIndex, 0);
        _anchor = target.EventIndex;
        _units = 0;
        _unitsKnown = true;
        Restores++;
    }

    public void Dispose() => Machine.Dispose();
}
