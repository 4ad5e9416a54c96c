using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>The live engine clock (host time), with every reading logged.</summary>
public sealed class RecordingClock(IEngineClock inner, TraceWriter writer) : IEngineClock
{
    public DateTime WallClockBase => inner.WallClockBase;

    /// <summary>
    /// The recording's notion of guest time: the latest reading the machine made (0 before the
    /// first), or, for a virtual clock (which the machine reads without this), the time now.
    /// </summary>
    public long LastReading
    {
        get => inner is InstructionClock ? inner.ReadNanoseconds() : _last;
        private set => _last = value;
    }

    private long _last;

    public long ReadNanoseconds()
    {
        long now = inner.ReadNanoseconds();
        LastReading = now;
        writer.Append(new ClockEvent(now));
        return now;
    }
}
