using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>Serial input as recorded: each poll gets the recorded answer.</summary>
public sealed class ReplaySerialInput(EventCursor events) : ISerialInput
{
    public bool TryRead(out byte value)
    {
        int v = events.Take<InputEvent>("a serial-input poll").Value;
        value = v < 0 ? (byte)0 : (byte)v;
        return v >= 0;
    }
}
