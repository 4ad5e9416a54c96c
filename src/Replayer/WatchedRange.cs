namespace VmReplay.Replayer;

/// <summary>
/// A watched guest range: <paramref name="Address"/> as the debugger named it (guest-virtual) and
/// the guest-physical bytes it maps to at the time it was set, one piece per page.
/// </summary>
public sealed record WatchedRange(ulong Address, int Length, IReadOnlyList<(ulong Gpa, int Length)> Physical, WatchKind Kind = WatchKind.Write);
