namespace VmReplay.Replayer;

/// <summary>A watched range written or read at a stop, and, where no guest instruction did it, what did (see <see cref="HitLocation.Note"/>).</summary>
internal readonly record struct WatchHit(WatchedRange Range, HitKind Kind, string? Note);
