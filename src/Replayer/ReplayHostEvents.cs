using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// Host events from the trace. A service recorded at an exit happens at the same exit. A forced
/// service point is reached with an execution breakpoint at its instruction (breakpoint 0 of the
/// vCPU's debug setup): at each hit the registers are compared, and when they match, the hash of
/// pages written since the previous service point; the first full match is the point (equal
/// state is an equivalent point). A hit that does not match is stepped over with a single-step,
/// since a breakpoint fires again at the same RIP on re-entry.
/// </summary>
public sealed class ReplayHostEvents(EventCursor events, IVcpuBackend vcpu, DirtyPageTracker dirty) : IHostEvents
{
    /// <summary>Execution breakpoints left for a debugger: breakpoint 0 finds forced points (on KVM, DR0; DR1-DR3 remain).</summary>
    public int UserBreakpointLimit => vcpu.BreakpointLimit is { } n ? n - 1 : int.MaxValue;

    // What the vCPU's debug setup was last armed with. A struct of ours, not a tuple: a field of
    // a framework struct leaves the class's layout outside the ReadyToRun version bubble, and the
    // precompiled Arm, TakeDue and OnExit, asked at every exit, looked up every field's offset.
    private readonly record struct ArmedMode(bool Step, ulong? Forced, ulong[] User, DataWatchpoint[] Watches, ulong? Stay);
    private ArmedMode _armed = new(false, null, [], [], null);

    // The next forced point's address while it is the next event, armed or not (a step over an
    // unmatched pass disarms its breakpoint but may run the iteration that ends a REP there).
    private ulong? _lookingFor;
    private bool _onUnmatchedHit;
    private bool _onUserBreakpoint;
    private bool _matchedForcedPoint;
    private long _unmatchedHits;

    /// <summary>
    /// Passes through a forced point's instruction, none matching, after which the replay has
    /// diverged: about 10 s of breakpoint stops on this host, some 300 ms of guest polling,
    /// where a recorded polling loop reaches its point within a few thousand passes.
    /// </summary>
    public const long UnmatchedHitLimit = 200_000;
    private ulong[] _userBreakpoints = [];

    public bool OwnsDebugExits => true;

    public bool AllowsInterruptWindow => false;

    /// <summary>Where guest-memory differences are kept, and whether a forced point may be taken on equal registers alone; null: never.</summary>
    public MemoryDifferences? Differences { get; set; }

    /// <summary>How the last breakpoint hit at the target address differed from the recorded point (for reports).</summary>
    public string? LastMismatch { get; private set; }

    /// <summary>Debug exits taken to find forced points (a measure of replay cost).</summary>
    public long DebugStops { get; private set; }

    /// <summary>
    /// Single-step the guest: every instruction ends in a debug stop (a forced point is still
    /// recognised at the step that reaches it). Used to reach an instruction offset.
    /// </summary>
    public bool SingleStep
    {
        get => _singleStep;
        set
        {
            _singleStep = value;
            _plainArmed = false;
        }
    }
    private bool _singleStep;

    /// <summary>The pages written since the last service point, which a forced point's hash covers.</summary>
    public DirtyPageTracker ServiceTracker => dirty;

    /// <summary>
    /// Whether the last debug stop ended a single step (DR6.BS) rather than hitting the
    /// breakpoint before its instruction ran: only steps count as executed instructions.
    /// </summary>
    public bool LastDebugStopWasStep => vcpu.LastDebugStop.Step;

    /// <summary>
    /// A debugger's execution breakpoints (linear addresses), at most <see cref="UserBreakpointLimit"/>,
    /// armed while the guest runs freely (single-stepping checks addresses instead).
    /// </summary>
    public IReadOnlyList<ulong> UserBreakpoints
    {
        get => _userBreakpoints;
        set
        {
            if (value.Count > UserBreakpointLimit)
                throw new HostLimitationException($"at most {UserBreakpointLimit} execution breakpoints on this backend: they use debug registers DR1-DR3 (DR0 finds the recorded points)");
            _userBreakpoints = value.ToArray();
            _plainArmed = false;
        }
    }

    /// <summary>
    /// A debugger's data watchpoints, armed in every run while set (the backend checks every
    /// access; only where <see cref="IVcpuBackend.DataWatchpoints"/>).
    /// </summary>
    public DataWatchpoint[] UserWatches
    {
        get => _userWatches;
        set
        {
            _userWatches = value;
            _plainArmed = false;
        }
    }
    private DataWatchpoint[] _userWatches = [];

    // The vCPU is armed for a stretch with no recorded point next: no instruction count to stop
    // at, no forced point, nothing to step over, the user's breakpoints and watches. Between two
    // recorded points nearly every stop is an exit followed by another, and arming again there
    // changes nothing (it was a fifth of a 200,000-exit replay's bookkeeping). Cleared by
    // whatever asks for more (a step, a debugger's stop, a breakpoint hit to step over), so that
    // a stop asks this flag and the next event alone.
    private bool _plainArmed;

    /// <summary>
    /// Asked before every run: an instruction count where a debugger also wants the vCPU to stop
    /// (a position it seeks, the next step), or null. Only where the backend counts.
    /// </summary>
    public Func<long?>? DebuggerStop
    {
        get => _debuggerStop;
        set
        {
            _debuggerStop = value;
            _plainArmed = false;
        }
    }
    private Func<long?>? _debuggerStop;

    /// <summary>
    /// Arms <see cref="UserWatches"/> now, not at the next entry: a run resumed where an interrupt
    /// is about to be delivered must watch the frame that delivery pushes.
    /// </summary>
    public void ArmWatchesNow() => SetMode(_armed.Step, _armed.Forced, _armed.User);

    /// <summary>Whether the last debug stop was the forced-point breakpoint (breakpoint 0) firing.</summary>
    public bool LastDebugStopHitForcedPoint => _armed.Forced is not null && vcpu.LastDebugStop.Hit(0);

    /// <summary>Whether the last debug stop was one of <see cref="UserBreakpoints"/> firing.</summary>
    public bool LastDebugStopHitUserBreakpoint => _armed.User.Length > 0 && vcpu.LastDebugStop.HitFrom(1);

    /// <summary>After a snapshot was restored: no breakpoint hit is pending.</summary>
    public void Restored()
    {
        _unmatchedHits = 0;
        _matchedForcedPoint = false;
        _onUnmatchedHit = false;
        _onUserBreakpoint = false;
        _plainArmed = false;
        _guardPosition = -1;
    }

    /// <summary>The trace was recorded on KVM and replays on the software CPU (see <see cref="UndefinedFlags"/>, <see cref="IVcpuBackend.ReportEmulatedInstructions"/>).</summary>
    public bool CrossBackend { get; init; }

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        if (CrossBackend) ReportEmulatedInstructions();
        if (_plainArmed && events.PeekOther() is null) return;
        ArmForNextPoint();
    }

    // The recording's VMM emulated the instruction before its next exit: the CPU reports it. A
    // method of its own: the exit's fingerprint made Arm, asked at every stop, zero a 64-byte frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportEmulatedInstructions() =>
        vcpu.ReportEmulatedInstructions(events.PeekExit(out var exit) && exit.Reason == (uint)ExitReason.InternalError);

    /// <summary>
    /// How many instructions a replay of a KVM recording on the software CPU runs without
    /// meeting the recording's next event before it calls that a divergence. The recording counts
    /// no instructions, so an exit the software CPU never makes (one the recording's VMM made for
    /// a reason this replay does not know) would otherwise leave it running for ever; a KVM
    /// recording logs a service point at every timer deadline, so a real stretch without events
    /// is far shorter (timer: 10,000 instructions between ticks; the Linux boot's longest, its
    /// decompressor, tens of millions). Waiting that long took 18 s in a Debug build (timer).
    /// </summary>
    public const long CrossBackendEventLimit = 1_000_000_000;

    private long _guardPosition = -1;
    private long _guardFrom;

    // Where the vCPU stops to give up waiting for the next event (see CrossBackendEventLimit).
    private long? EventDeadline()
    {
        if (vcpu.InstructionsRetired is not { } now) return null;
        if (events.Position != _guardPosition)
        {
            _guardPosition = events.Position;
            _guardFrom = now;
        }
        long deadline = _guardFrom + CrossBackendEventLimit;
        if (now >= deadline)
            throw new ReplayDivergenceException(events.Position, events.Peek()?.Describe() ?? "the end of the recording",
                $"{CrossBackendEventLimit:N0} instructions on the software CPU without it (a KVM recording counts no instructions; the replay stops waiting here)");
        return deadline;
    }

    // A debugger's breakpoint fired: the next entry steps over it.
    private void OnUserBreakpoint()
    {
        _onUserBreakpoint = true;
        _plainArmed = false;
    }

    // The rest of Arm, kept out of it as TakeRecordedPoint is kept out of TakeDue.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ArmForNextPoint()
    {
        _plainArmed = false;
        // A point recorded by its instruction count is reached by counting: the vCPU stops there by
        // itself. One the replay has already passed can never come.
        var scheduled = events.PeekOther() as ScheduledServiceEvent;
        if (scheduled is not null && vcpu.InstructionsRetired is { } now && now > scheduled.Instructions)
            throw new ReplayDivergenceException(events.Position, scheduled.Describe(), $"the replay is past it, at instruction {now}");
        long? stopAt = scheduled?.Instructions;
        if (CrossBackend && EventDeadline() is { } deadline && !(stopAt <= deadline)) stopAt = deadline;
        if (DebuggerStop?.Invoke() is { } wanted && wanted > (vcpu.InstructionsRetired ?? long.MaxValue) && !(stopAt <= wanted)) stopAt = wanted;
        vcpu.StopAtInstruction(stopAt);
        ulong? forced = events.PeekOther() is ForcedServiceEvent f ? f.LinearRip : null;
        _lookingFor = forced;
        // A breakpoint that just fired would fire again at the same RIP on re-entry (this host
        // does not honour RF there): step over it once with nothing armed. Except where the next
        // forced point lies at this same instruction (kicks recorded before it ran): that one
        // must fire again, before anything executes, and alone.
        bool stepOver = _onUnmatchedHit || _onUserBreakpoint;
        bool matched = _matchedForcedPoint;
        _onUnmatchedHit = _onUserBreakpoint = _matchedForcedPoint = false;
        bool forcedHereAgain = matched && forced is { } at && at == VcpuState.LinearRipOf(vcpu.ReadRegisters(), vcpu.ReadSystemRegisters());
        if (SingleStep)
        {
            // Keep the forced-point breakpoint: a forced point can lie where the guest has not
            // executed anything yet (a kick right after an interrupt was delivered), which no step
            // reaches; and forced points are taken only where DR0 fires, stepping or not.
            SetMode(true, stepOver && !forcedHereAgain ? null : forced, []);
            return;
        }
        if (forcedHereAgain) SetMode(false, forced, []);
        else if (stepOver) SetMode(true, null, []);
        else
        {
            SetMode(false, forced, _userBreakpoints);
            _plainArmed = stopAt is null && forced is null && _debuggerStop is null && !CrossBackend;
        }
    }

    /// <summary>
    /// A recording stopped from outside (<see cref="RunOutcomeKind.Stopped"/>) ended right after
    /// the service point before its end event: the replay ends there, with the recorded outcome.
    /// </summary>
    public RunOutcome? StopRequest =>
        events.PeekOther() is EndEvent { Kind: RunOutcomeKind.Stopped } end ? new RunOutcome(end.Kind, end.ExitStatus, end.Message) : null;

    /// <summary>The engine clock when it is the instruction count: a halt skips it to the next deadline, as the recording's did.</summary>
    public InstructionClock? VirtualClock { get; init; }

    public bool WaitIdle(long? deadlineNanoseconds)
    {
        if (events.PeekOther() is not ServiceEvent) return false;
        // The recording skipped to the deadline whenever there was one (VirtualTimeEvents.WaitIdle).
        if (VirtualClock is { } clock && deadlineNanoseconds is { } deadline) clock.SkipTo(deadline);
        return true;
    }

    /// <summary>
    /// Whether <paramref name="stop"/> is the recorded point the next event names by its
    /// instruction count: a stop there that is not an exit (the vCPU stopped by counting, or a
    /// single step landed on it). Such a stop is a natural stop of the replay.
    /// </summary>
    public bool IsScheduledPoint(StopPoint stop) =>
        events.PeekOther() is ScheduledServiceEvent s && stop.Instructions == s.Instructions
        && stop.Kind is StopKind.Scheduled or StopKind.Debug or StopKind.Interrupted or StopKind.Window;

    public bool TakeDue(in StopPoint stop)
    {
        var next = events.PeekOther();
        if (next is null)
        {
            // An exit is next (or the end): nothing recorded is due at this stop, nearly every
            // stop of a replay, and the checks below (each looking at the next event again) are
            // not made.
            if (stop.Kind == StopKind.Debug && LastDebugStopHitUserBreakpoint) OnUserBreakpoint();
            return false;
        }
        return TakeRecordedPoint(next, stop);
    }

    // The rest of TakeDue, a method of its own: compiled into it, its locals (register files,
    // hashes) were set up at every stop, and the common answer above was a quarter of a
    // 4,000,000-exit replay's bookkeeping.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TakeRecordedPoint(TraceEvent next, StopPoint stop)
    {
        if (next is ServiceEvent && stop.Kind == StopKind.Exit)
        {
            events.Advance();
            dirty.Reset();
            return true;
        }
        if (IsScheduledPoint(stop))
        {
            events.Advance();
            dirty.Reset();
            return true;
        }
        if (stop.Kind == StopKind.Debug && LastDebugStopHitUserBreakpoint) OnUserBreakpoint();
        if (next is ForcedServiceEvent f && stop.Kind == StopKind.Debug && LastDebugStopHitForcedPoint)
        {
            DebugStops++;
            var regs = vcpu.ReadRegisters();
            ulong linear = VcpuState.LinearRipOf(regs, vcpu.ReadSystemRegisters());
            if (linear != f.LinearRip) return false;
            var actual = RegisterFile.From(regs);
            bool registersMatch = f.RegistersMatch(actual);
            bool flagsOnly = !registersMatch && CrossBackend && UndefinedFlags.OnlyDifference(f.Registers, actual);
            registersMatch |= flagsOnly;
            bool memoryMatches = false, samePages = false;
            if (registersMatch)
            {
                var (contents, addresses) = dirty.Hashes();
                memoryMatches = contents == f.DirtyHash;
                samePages = f.PageListHash is null || addresses == f.PageListHash;
            }
            if (registersMatch && !memoryMatches && samePages && Differences is { Strict: false } tolerated)
            {
                // Equal registers at the recorded instruction, and the same pages written since
                // the previous service point: the point, with different bytes in those pages,
                // which values the VMM cannot record (RDTSC) cause without any difference in
                // control flow. The page list tells apart passes of an outer loop that leave
                // the registers equal (Linux parses the same command line with the same
                // registers at every initcall level); a version-1 trace has none, and there
                // the first pass with equal registers is taken.
                tolerated.AtForcedPoint($"event {events.Position}, rip {f.LinearRip:x}");
                memoryMatches = true;
            }
            if (registersMatch && memoryMatches)
            {
                if (flagsOnly)
                {
                    string where = $"event {events.Position}, rip {f.LinearRip:x}: RFLAGS {f.Registers[RegisterFile.Rflags]:x} recorded, {actual[RegisterFile.Rflags]:x} now";
                    if (Differences is { Strict: true }) throw new ReplayDivergenceException(events.Position, f.Describe(), $"the same registers but for flags the SDM leaves undefined or RF ({where})");
                    Differences?.InUndefinedFlags(where);
                    UndefinedFlags.Adopt(vcpu, f.Registers[RegisterFile.Rflags]);
                }
                _matchedForcedPoint = true;
                _plainArmed = false;
                _unmatchedHits = 0;
                events.Advance();
                dirty.Reset();
                return true;
            }
            _onUnmatchedHit = true;
            _plainArmed = false;
            LastMismatch = RegisterDifference(f.Registers, RegisterFile.From(regs));
            // A loop that never reaches the recorded state would keep the replay here for ever.
            // Replayed on the software CPU, the wait for the next event has its own limit in
            // instructions (CrossBackendEventLimit), and the passes are cheap and may be many:
            // every iteration of a REP instruction is one (a forced point recorded on KVM can lie
            // between two; in Linux's boot, 241,000 iterations of clearing pages after the last).
            if (++_unmatchedHits >= UnmatchedHitLimit && !CrossBackend)
                throw new ReplayDivergenceException(events.Position, f.Describe(),
                    $"{_unmatchedHits:N0} passes through {f.LinearRip:x} that match neither its registers nor its memory (last: {(LastMismatch.Length > 0 ? LastMismatch : "registers equal, written pages differ")})");
        }
        return false;
    }

    private static readonly string[] RegisterNames =
        ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"];

    /// <summary>The registers that differ, recorded and actual; empty when none does.</summary>
    public static string RegisterDifference(ulong[] expected, ulong[] actual)
    {
        // Asked at every snapshot a replay checks, where the registers nearly always agree: the
        // query that names them was compiled by the JIT (LINQ over int) at every replay's first check.
        if (expected.AsSpan().SequenceEqual(actual)) return "";
        return string.Join(", ", Enumerable.Range(0, expected.Length).Where(i => expected[i] != actual[i])
            .Select(i => $"{RegisterNames[i]} {expected[i]:x} recorded, {actual[i]:x} now"));
    }

    // A loop over the arrays: the run loop arms at every entry, and LINQ's SequenceEqual over
    // an IReadOnlyList spent most of its time in type checks, the list's Count and indexer in
    // interface stubs (a tenth of a 200,000-exit replay's bookkeeping).
    private static bool SameWatches(DataWatchpoint[] watches, DataWatchpoint[] armed)
    {
        if (watches.Length != armed.Length) return false;
        for (int i = 0; i < armed.Length; i++)
            if (watches[i] != armed[i]) return false;
        return true;
    }

    private void SetMode(bool step, ulong? forced, ulong[] user)
    {
        var watches = UserWatches;
        ulong? stay = CrossBackend ? _lookingFor : null;
        if (step == _armed.Step && forced == _armed.Forced && user.AsSpan().SequenceEqual(_armed.User) && SameWatches(watches, _armed.Watches) && stay == _armed.Stay) return;
        var breakpoints = new List<ulong?>(user.Length + 1) { forced };
        foreach (ulong u in user) breakpoints.Add(u);
        if (forced is null && user.Length == 0) breakpoints.Clear();
        vcpu.SetDebug(new DebugSetup(step, breakpoints, watches.Length > 0 ? watches : null) { ExhaustedRepeatStaysAt = stay });
        _armed = new(step, forced, user, watches.ToArray(), stay);
    }
}
