namespace VmReplay.Replayer;

/// <summary>
/// A seek has to go back (the machine is past its target), and the trace holds no snapshot at or
/// before the target to restore: a trace cut short before its first snapshot.
/// </summary>
public sealed class MissingSnapshotException(string tracePath, long eventIndex)
    : Exception($"{tracePath}: no snapshot at or before event {eventIndex} to go back to")
{
    public long EventIndex { get; } = eventIndex;
}
