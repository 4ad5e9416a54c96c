using VmReplay.Engine.Determinism;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>The engine clock as recorded: each reading is the next recorded one.</summary>
public sealed class ReplayClock(EventCursor events, DateTime wallClockBase) : IEngineClock
{
    public DateTime WallClockBase => wallClockBase;

    public long ReadNanoseconds() => events.Take<ClockEvent>("a clock reading").Nanoseconds;
}
