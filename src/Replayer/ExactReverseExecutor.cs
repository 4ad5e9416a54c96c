namespace VmReplay.Replayer;

/// <summary>
/// Forward and reverse execution by instruction count, for a debugger on a replay that counts
/// instructions (<see cref="ReplaySession.CountsInstructions"/>): the software CPU.
/// </summary>
/// <remarks>
/// Going back one step restores the nearest snapshot at or before the step before and runs to
/// it, the vCPU stopping at that count by itself; so it costs at most one snapshot interval of
/// execution, however long the trace. Going back to a hit replays the stretch from the snapshot
/// before here with the processor's own breakpoints and watchpoints armed, which report every
/// hit exactly, and goes to the last one; a stretch without hits moves the search one snapshot
/// further back. An interval between two snapshots that an earlier replay saw touch none of the
/// watched pages the way they are watched and run no instruction on a breakpoint's page is
/// passed over without replaying it (a watch on a variable written once at the start of a long
/// trace no longer replays all of it).
/// Nothing single-steps.
/// </remarks>
public sealed class ExactReverseExecutor
{
    private readonly ReplaySession _session;

    public ExactReverseExecutor(ReplaySession session)
    {
        _session = session;
        session.LearnIntervalPages();
    }

    /// <summary>Whether a reverse-continue passes over the snapshot intervals known to hold no hit (on by default; off for tests that compare).</summary>
    public bool PassesOverIntervals { get; set; } = true;

    /// <summary>The current position.</summary>
    public InstructionPosition Position => _session.At;

    // The start of the recording: where snapshot 0 was taken.
    private InstructionPosition Start => _session.SnapshotPosition(0);

    /// <summary>Executes one instruction, or the interrupt delivery due here; a watched access by it is reported as the watchpoint.</summary>
    public DebugStop StepForward()
    {
        var run = _session.StepInstruction();
        return run.Kind switch
        {
            RunStopKind.RecordingEnded => End(run.End!),
            RunStopKind.Hit => StopFor(_session.LastHit!),
            _ => new DebugStop(DebugStopKind.Step),
        };
    }

    /// <summary>Runs forward to the next breakpoint or watchpoint hit, an interrupt request, or the end of the recording.</summary>
    public DebugStop ContinueForward()
    {
        var run = _session.ContinueToHit();
        return run.Kind switch
        {
            RunStopKind.RecordingEnded => End(run.End!),
            RunStopKind.Hit => StopFor(_session.LastHit!),
            RunStopKind.Interrupted => new DebugStop(DebugStopKind.Interrupted),
            _ => new DebugStop(DebugStopKind.Step),
        };
    }

    /// <summary>Goes back exactly one step (an instruction or an interrupt delivery); at the start of the recording, reports <see cref="DebugStopKind.Begin"/>.</summary>
    public DebugStop StepBackward()
    {
        var here = Position;
        if (here <= Start) return Begin();
        if (here.Deliveries > 0)
        {
            Repeated(_session.SeekTo(here with { Deliveries = here.Deliveries - 1 }));
            return new DebugStop(DebugStopKind.Step);
        }
        // The step before (N, 0) is instruction N, which begins after every delivery at N-1.
        long previous = here.Instructions - 1;
        if (_session.DeliveriesAt(previous) is null)
        {
            // Learn them: run over that count again, pausing at each delivery.
            Repeated(_session.SeekTo(new InstructionPosition(previous, 0)));
            Repeated(_session.SeekTo(here));
        }
        Repeated(_session.SeekTo(new InstructionPosition(previous, _session.DeliveriesAt(previous) ?? 0)));
        return new DebugStop(DebugStopKind.Step);
    }

    /// <summary>
    /// Runs backward to the most recent breakpoint or watchpoint hit before here (stopping before
    /// the instruction that hit), or to the start. A debugger's interrupt stops the scan at the
    /// earliest position it has cleared: every instruction from there to here was searched.
    /// </summary>
    public DebugStop ContinueBackward()
    {
        var end = Position;
        int snapshot = _session.SnapshotAtOrBefore(end);
        while (snapshot >= 0 && end > Start)
        {
            var from = _session.SnapshotPosition(snapshot);
            if (from >= end)
            {
                snapshot--;
                continue;
            }
            if (_session.TakeInterruptRequest()) return Interrupted(end);
            // An interval known to touch no watched page and run nothing on a breakpoint's page holds no hit: on to the one before.
            if (PassesOverIntervals && _session.CannotHit(snapshot, endsHere: end == Position))
            {
                end = from;
                snapshot--;
                continue;
            }
            _session.Restore(snapshot);
            var (hits, interrupted) = _session.ScanHits(end, interruptible: true);
            // Hits found before the interrupt may not be the last ones before the segment's end.
            if (interrupted) return Interrupted(end);
            if (hits.Count > 0)
            {
                var last = hits[^1];
                Repeated(_session.SeekTo(last.Before));
                return StopFor(last);
            }
            end = from;
            snapshot--;
        }
        return Begin();
    }

    /// <summary>Goes to a position (a `monitor goto`): <see cref="RunStopKind.RecordingEnded"/> when the recording ends before it.</summary>
    public RunStop GoTo(InstructionPosition target) => _session.SeekTo(target);

    private static DebugStop StopFor(InstructionHit hit) => new(DebugStop.KindOf(hit.Kind), hit.Address, hit.Note);

    private static void Repeated(RunStop run) => ReverseExecutor.Repeated(run);

    private DebugStop Interrupted(InstructionPosition cleared)
    {
        if (Position != cleared) Repeated(_session.SeekTo(cleared));
        return new DebugStop(DebugStopKind.Interrupted);
    }

    private DebugStop Begin()
    {
        Repeated(_session.SeekTo(Start));
        return new DebugStop(DebugStopKind.Begin);
    }

    // The recording's last instruction ends the run without a stop after it, so the end is shown
    // just before that instruction: the last position that exists.
    private DebugStop End(RecordingEnd end)
    {
        Repeated(_session.SeekTo(Position));
        return new DebugStop(DebugStopKind.End, Detail: end.Outcome.Message);
    }
}
