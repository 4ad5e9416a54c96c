namespace VmReplay.Replayer;

/// <summary>What a debugger stopped for.</summary>
public enum HitKind { Breakpoint, Watch, ReadWatch, AccessWatch }

/// <summary>
/// A breakpoint or watchpoint hit. Found by single-stepping, it has its exact position
/// <see cref="At"/>. Found by a free run, it is the <see cref="Ordinal"/>-th breakpoint hit counted
/// from <see cref="From"/>; or, for a watched value, a change somewhere after <see cref="From"/> and
/// before the natural stop <see cref="EndEvent"/> or the breakpoint hit <see cref="EndBreakpointHit"/>.
/// Single-stepping from <see cref="From"/> gives the exact position.
/// </summary>
/// <param name="Address">The breakpoint's address, or the watched range's address as the debugger gave it.</param>
/// <param name="Note">
/// For a watch hit that no guest instruction made, who did and why (an interrupt delivery pushing
/// its frame, the replay taking a snapshot's recorded memory); null for an instruction's access.
/// </param>
public sealed record HitLocation(ReplayPosition From, int Ordinal, HitKind Kind, ulong Address,
    ReplayPosition? At = null, long? EndEvent = null, int? EndBreakpointHit = null, string? Note = null);
