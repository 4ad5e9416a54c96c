namespace VmReplay.Replayer;

/// <summary>Why a debugger's forward or reverse motion ended.</summary>
public enum DebugStopKind
{
    /// <summary>A single step finished.</summary>
    Step,
    /// <summary>An execution breakpoint was reached (the instruction at it not yet executed).</summary>
    Breakpoint,
    /// <summary>A watched range was written: forward, just after the write; in reverse, just before it.</summary>
    Watch,
    /// <summary>A read-watched range was read: forward, just after the read; in reverse, just before it.</summary>
    ReadWatch,
    /// <summary>An access-watched range was read or written: forward, just after; in reverse, just before.</summary>
    AccessWatch,
    /// <summary>Reverse motion reached the start of the recording.</summary>
    Begin,
    /// <summary>Forward motion reached the end of the recording.</summary>
    End,
    /// <summary>The debugger interrupted a forward run.</summary>
    Interrupted,
}

/// <summary>
/// Where and why motion stopped; <see cref="Address"/> is the breakpoint or the watched range's
/// address. <see cref="Detail"/> is text for the debugger's user: how the recording ended, or
/// what changed a watched value where no guest instruction did (see <see cref="HitLocation.Note"/>).
/// </summary>
public sealed record DebugStop(DebugStopKind Kind, ulong Address = 0, string? Detail = null)
{
    /// <summary>The stop a hit of <paramref name="kind"/> makes.</summary>
    public static DebugStopKind KindOf(HitKind kind) => kind switch
    {
        HitKind.Watch => DebugStopKind.Watch,
        HitKind.ReadWatch => DebugStopKind.ReadWatch,
        HitKind.AccessWatch => DebugStopKind.AccessWatch,
        _ => DebugStopKind.Breakpoint,
    };
}
