namespace VmReplay.Replayer;

/// <summary>
/// Forward and reverse execution over a replay, at instruction precision, for a debugger.
/// </summary>
/// <remarks>
/// Like rr, it never executes backwards: going back restores a snapshot before the target and
/// replays forward to it. Positions are counted from natural stops (see
/// <see cref="ReplaySession.Here"/>), so every replay reaches the same state at the same position.
/// A reverse-continue replays the stretch before the current position with breakpoints and
/// watchpoints armed, takes the last hit, and single-steps to its exact instruction; a stretch
/// without hits moves the search one snapshot further back.
/// </remarks>
public sealed class ReverseExecutor(ReplaySession session)
{
    private static readonly ReplayPosition Start = new(0, 0);

    public ReplaySession Session => session;

    /// <summary>The current position (always exact between motions).</summary>
    public ReplayPosition Position => session.Here ?? throw new InvalidOperationException("the replay position is not resolved");

    /// <summary>Executes one instruction (an interrupt delivery counts as one: it lands on the handler's first instruction).</summary>
    public DebugStop StepForward() =>
        session.StepUnits(1) is { End: { } end } ? End(end) : new DebugStop(DebugStopKind.Step);

    /// <summary>Runs forward to the next breakpoint or watchpoint hit, an interrupt request, or the end of the recording.</summary>
    public DebugStop ContinueForward()
    {
        var run = session.RunFree(long.MaxValue, stopAtHit: true);
        return run.Kind switch
        {
            RunStopKind.RecordingEnded => End(run.End!),
            RunStopKind.Hit => StopFor(Locate(run.Hit!, last: false)),
            RunStopKind.Interrupted => new DebugStop(DebugStopKind.Interrupted),
            _ => new DebugStop(DebugStopKind.Step),
        };
    }

    /// <summary>Goes back exactly one instruction; at the start of the recording, reports <see cref="DebugStopKind.Begin"/>.</summary>
    public DebugStop StepBackward()
    {
        var here = Position;
        if (here.Instructions > 0)
        {
            Repeated(session.Seek(here with { Instructions = here.Instructions - 1 }));
            return new DebugStop(DebugStopKind.Step);
        }
        long anchor = here.Event;
        while (true)
        {
            if (anchor <= 0) return Begin();
            var link = session.LinkBefore(anchor);
            if (link is null)
            {
                // Learn which natural stop comes before this one: replay up to it from a snapshot before it.
                int snapshot = session.NearestSnapshot(anchor - 1);
                if (snapshot < 0) return Begin();
                session.Restore(snapshot);
                Repeated(session.RunFree(anchor, stopAtHit: false));
                link = session.LinkBefore(anchor);
                if (link is null) return Begin();
            }
            var (previous, instructions) = link.Value;
            if (instructions < 0)
            {
                // Count the instructions between the two stops by single-stepping that stretch.
                Repeated(session.Seek(new ReplayPosition(previous, 0)));
                Repeated(session.StepUnits(long.MaxValue, untilEvent: anchor));
                (previous, instructions) = session.LinkBefore(anchor)!.Value;
            }
            if (instructions > 0)
            {
                Repeated(session.Seek(new ReplayPosition(previous, instructions - 1)));
                return new DebugStop(DebugStopKind.Step);
            }
            anchor = previous; // both stops are the same instruction boundary
        }
    }

    /// <summary>Runs backward to the most recent breakpoint or watchpoint hit before here, or to the start.</summary>
    public DebugStop ContinueBackward()
    {
        var end = Position;
        while (end > Start)
        {
            int snapshot = session.NearestSnapshot(end.Instructions > 0 ? end.Event : end.Event - 1);
            if (snapshot < 0) break;
            session.Restore(snapshot);
            long from = session.Here!.Value.Event;
            session.Hits.Clear();
            session.RecordHits = true;
            try
            {
                if (from < end.Event) Repeated(session.RunFree(end.Event, stopAtHit: false));
                if (end.Instructions > 0) Repeated(session.StepUnits(end.Instructions - session.Here!.Value.Instructions));
            }
            finally { session.RecordHits = false; }
            Trace($"segment from snapshot {snapshot} (event {from}) to {end}: {session.Hits.Count} hits {string.Join(", ", session.Hits.TakeLast(3))}");
            if (session.Hits.Count > 0)
            {
                var last = session.Hits[^1];
                var exact = Locate(last, last: true);
                // In reverse, stop before the accessing instruction, as gdb expects. An
                // instruction that exits (port I/O, an instruction the VMM emulates) ends at a
                // natural stop, offset 0: the boundary before it counts from the stop before.
                if (exact.Kind != HitKind.Breakpoint && StepBackward().Kind == DebugStopKind.Begin)
                    throw new InvalidOperationException($"the {Describe(exact)} hit at {exact.At} has no instruction boundary before it");
                return StopFor(exact);
            }
            end = new ReplayPosition(from, 0);
        }
        return Begin();
    }

    /// <summary>Goes to a position (a `monitor goto`): <see cref="RunStopKind.RecordingEnded"/> when the recording ends before it.</summary>
    public RunStop GoTo(ReplayPosition target) => session.Seek(target);

    private static readonly bool Tracing = Environment.GetEnvironmentVariable("VMREPLAY_TRACE_REVERSE") == "1";

    private static void Trace(string line)
    {
        if (Tracing) Console.Error.WriteLine($"reverse: {line}");
    }

    // Replays from the hit's base position, single-stepping until the hit recurs: that is its
    // exact instruction.
    private HitLocation Locate(HitLocation hit, bool last)
    {
        Trace($"locating {hit}");
        if (hit.At is { } at)
        {
            Recurring(session.Seek(at), hit);
            return hit;
        }
        Recurring(session.Seek(hit.From), hit);
        if (hit.Kind == HitKind.Breakpoint)
            return session.StepUnits(long.MaxValue, untilHit: hit.Ordinal).Hit ?? throw NotRecurring(hit);
        if (!last)
            return session.StepUnits(long.MaxValue, untilWatch: true).Hit ?? throw NotRecurring(hit);
        // The last change before the stop where the free run saw it: step that stretch, keep all.
        session.Hits.Clear();
        session.RecordHits = true;
        try
        {
            Recurring(hit.EndEvent is { } end
                ? session.StepUnits(long.MaxValue, untilEvent: end)
                : session.StepUnits(long.MaxValue, untilHit: hit.EndBreakpointHit ?? 1), hit);
        }
        finally { session.RecordHits = false; }
        var change = session.Hits.LastOrDefault(h => h.Kind == HitKind.Watch) ?? throw NotRecurring(hit);
        Recurring(session.Seek(change.At!.Value), hit);
        return change;
    }

    // Stepping that ran into the end of the recording did not see the hit again either.
    private void Recurring(RunStop run, HitLocation hit)
    {
        if (run.Kind == RunStopKind.RecordingEnded) throw NotRecurring(hit);
    }

    // Whatever a motion replays again was reached by an earlier pass: the recording ending
    // before it means this pass went another way.
    internal static void Repeated(RunStop run)
    {
        if (run.End is { } end) throw new ReplayNondeterminismException($"{end.Message}, which an earlier pass of the replay reached");
    }

    private ReplayNondeterminismException NotRecurring(HitLocation hit)
    {
        string why = hit.Kind == HitKind.Watch && session.Differences.Any
            ? "this replay computes some data differently from the recording (values read with RDTSC, which vmreplay cannot record), so a value one run saw change may not change in another"
            : "the replay is not deterministic here";
        return new($"the {Describe(hit)} hit at 0x{hit.Address:x} after {hit.From} did not recur when single-stepping that stretch: {why}");
    }

    private static string Describe(HitLocation hit) => hit.Kind switch
    {
        HitKind.Watch => "watchpoint",
        HitKind.ReadWatch => "read watchpoint",
        HitKind.AccessWatch => "access watchpoint",
        _ => "breakpoint",
    };

    private static DebugStop StopFor(HitLocation hit) => new(DebugStop.KindOf(hit.Kind), hit.Address, hit.Note);

    private DebugStop Begin()
    {
        Repeated(session.Seek(Start));
        return new DebugStop(DebugStopKind.Begin);
    }

    // The recording's last instruction ends the run without a stop after it, so the end is shown
    // just before that instruction: the last position that exists.
    private DebugStop End(RecordingEnd end)
    {
        if (session.Here is null)
        {
            // A free run ended it: count the last stretch by stepping it to the end again.
            Repeated(session.Seek(new ReplayPosition(session.Anchor, 0)));
            _ = session.StepUnits(long.MaxValue);
        }
        Repeated(session.Seek(session.Here!.Value));
        return new DebugStop(DebugStopKind.End, Detail: end.Outcome.Message);
    }
}
