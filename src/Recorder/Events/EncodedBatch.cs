namespace VmReplay.Recorder.Events;

/// <summary>
/// The events of one EVNT chunk as the bytes its frame decompresses to, already checked to
/// decode: a replay reads them with an <see cref="EventReader"/> one event at a time, exits as
/// values, instead of an object for each. <paramref name="First"/> is the trace index of its
/// first event.
/// </summary>
public sealed record EncodedBatch(long First, int Count, byte[] Bytes);
