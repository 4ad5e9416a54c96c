using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>The live engine clock, with every reading logged.</summary>
public sealed class RecordingClock(IEngineClock inner, TraceWriter writer) : IEngineClock
{
    public DateTime WallClockBase => inner.WallClockBase;

    public long ReadNanoseconds()
    {
        long now = inner.ReadNanoseconds();
        writer.Append(new ClockEvent(now));
        return now;
    }
}
