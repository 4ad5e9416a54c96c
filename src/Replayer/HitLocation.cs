using VmReplay.Engine.Run;

namespace VmReplay.Replayer;

/// <summary>What a debugger stopped for.</summary>
public enum HitKind { Breakpoint, Watch }

/// <summary>
/// A breakpoint or watchpoint hit, found without knowing its exact instruction count: the
/// <see cref="Ordinal"/>-th hit counted from <see cref="From"/> (a position with a known count, or
/// a natural stop). Single-stepping from there to that hit gives its exact position.
/// </summary>
/// <param name="Address">The breakpoint's address, or the watched range's start as the debugger gave it.</param>
/// <param name="Write">For a watchpoint, the write that hit it.</param>
public sealed record HitLocation(ReplayPosition From, int Ordinal, HitKind Kind, ulong Address, TrappedWrite? Write = null);
