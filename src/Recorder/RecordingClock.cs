using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>The live engine clock, with every reading logged.</summary>
public sealed class RecordingClock(IEngineClock inner, TraceWriter writer) : IEngineClock
{
    public DateTime WallClockBase => inner.WallClockBase;

    /// <summary>The latest reading the machine made (0 before the first): the recording's notion of guest time.</summary>
    public long LastReading { get; private set; }

    public long ReadNanoseconds()
    {
        long now = inner.ReadNanoseconds();
        LastReading = now;
        writer.Append(new ClockEvent(now));
        return now;
    }
}
