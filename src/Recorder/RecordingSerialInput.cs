using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>The live serial input, with every poll and its answer logged.</summary>
public sealed class RecordingSerialInput(ISerialInput inner, TraceWriter writer) : ISerialInput
{
    public bool TryRead(out byte value)
    {
        bool got = inner.TryRead(out value);
        writer.Append(new InputEvent(got ? value : -1));
        return got;
    }
}
