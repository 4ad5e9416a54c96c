namespace VmReplay.Replayer;

/// <summary>The replay wanted another event but the recording has none (an incomplete trace ends here).</summary>
public sealed class RecordingExhaustedException(long eventIndex, string wanted)
    : Exception($"the recording ends at event {eventIndex}, but the replay wanted {wanted}")
{
    public long EventIndex { get; } = eventIndex;
}
