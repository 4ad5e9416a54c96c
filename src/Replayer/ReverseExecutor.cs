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
    public DebugStop StepForward()
    {
        try
        {
            session.StepUnits(1);
            return new DebugStop(DebugStopKind.Step);
        }
        catch (ArgumentOutOfRangeException)
        {
            return End();
        }
    }

    /// <summary>Runs forward to the next breakpoint or watchpoint hit, an interrupt request, or the end of the recording.</summary>
    public DebugStop ContinueForward()
    {
        HitLocation? hit;
        try { hit = session.RunFree(long.MaxValue, stopAtHit: true); }
        catch (ArgumentOutOfRangeException) { return End(); }
        if (hit is null) return new DebugStop(session.Interrupted ? DebugStopKind.Interrupted : DebugStopKind.Step);
        var exact = Locate(hit, last: false);
        return StopFor(exact);
    }

    /// <summary>Goes back exactly one instruction; at the start of the recording, reports <see cref="DebugStopKind.Begin"/>.</summary>
    public DebugStop StepBackward()
    {
        var here = Position;
        if (here.Instructions > 0)
        {
            session.Seek(here with { Instructions = here.Instructions - 1 });
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
                session.RunFree(anchor, stopAtHit: false);
                link = session.LinkBefore(anchor);
                if (link is null) return Begin();
            }
            var (previous, instructions) = link.Value;
            if (instructions < 0)
            {
                // Count the instructions between the two stops by single-stepping that stretch.
                session.Seek(new ReplayPosition(previous, 0));
                session.StepUnits(long.MaxValue, untilEvent: anchor);
                (previous, instructions) = session.LinkBefore(anchor)!.Value;
            }
            if (instructions > 0)
            {
                session.Seek(new ReplayPosition(previous, instructions - 1));
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
                if (from < end.Event) session.RunFree(end.Event, stopAtHit: false);
                if (end.Instructions > 0) session.StepUnits(end.Instructions - session.Here!.Value.Instructions);
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

    /// <summary>Goes to a position (a `monitor goto`).</summary>
    public void GoTo(ReplayPosition target) => session.Seek(target);

    // Replays from the hit's base position, single-stepping until the hit recurs: that is its
    // exact instruction.
    private static readonly bool Tracing = Environment.GetEnvironmentVariable("VMREPLAY_TRACE_REVERSE") == "1";

    private static void Trace(string line)
    {
        if (Tracing) Console.Error.WriteLine($"reverse: {line}");
    }

    private HitLocation Locate(HitLocation hit, bool last)
    {
        Trace($"locating {hit}");
        try { return LocateExactly(hit, last); }
        catch (ArgumentOutOfRangeException)
        {
            // Stepping ran into the end of the recording without seeing the hit again.
            throw NotRecurring(hit);
        }
    }

    private HitLocation LocateExactly(HitLocation hit, bool last)
    {
        if (hit.At is { } at)
        {
            session.Seek(at);
            return hit;
        }
        session.Seek(hit.From);
        if (hit.Kind == HitKind.Breakpoint)
            return session.StepUnits(long.MaxValue, untilHit: hit.Ordinal) ?? throw NotRecurring(hit);
        if (!last)
            return session.StepUnits(long.MaxValue, untilWatch: true) ?? throw NotRecurring(hit);
        // The last change before the stop where the free run saw it: step that stretch, keep all.
        session.Hits.Clear();
        session.RecordHits = true;
        try
        {
            if (hit.EndEvent is { } end) session.StepUnits(long.MaxValue, untilEvent: end);
            else session.StepUnits(long.MaxValue, untilHit: hit.EndBreakpointHit ?? 1);
        }
        finally { session.RecordHits = false; }
        var change = session.Hits.LastOrDefault(h => h.Kind == HitKind.Watch) ?? throw NotRecurring(hit);
        session.Seek(change.At!.Value);
        return change;
    }

    private InvalidOperationException NotRecurring(HitLocation hit)
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

    private static DebugStop StopFor(HitLocation hit) => new(hit.Kind switch
    {
        HitKind.Watch => DebugStopKind.Watch,
        HitKind.ReadWatch => DebugStopKind.ReadWatch,
        HitKind.AccessWatch => DebugStopKind.AccessWatch,
        _ => DebugStopKind.Breakpoint,
    }, hit.Address, hit.Note);

    private DebugStop Begin()
    {
        session.Seek(Start);
        return new DebugStop(DebugStopKind.Begin);
    }

    // The recording's last instruction ends the run without a stop after it, so the end is shown
    // just before that instruction: the last position that exists.
    private DebugStop End()
    {
        string? detail = session.Outcome?.Message;
        if (session.Here is null)
        {
            session.Seek(new ReplayPosition(session.Anchor, 0));
            try { session.StepUnits(long.MaxValue); }
            catch (ArgumentOutOfRangeException) { }
        }
        session.Seek(session.Here!.Value);
        return new DebugStop(DebugStopKind.End, Detail: detail);
    }
}
