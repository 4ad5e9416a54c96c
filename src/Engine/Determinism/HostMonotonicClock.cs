using System.Diagnostics;

namespace VmReplay.Engine.Determinism;

/// <summary>
/// Engine time for a live run: the host's monotonic clock since the machine was created.
/// This is the one place the VMM reads host time; a recorder wraps it and logs every reading.
/// </summary>
public sealed class HostMonotonicClock : IEngineClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public DateTime WallClockBase { get; } = DateTime.UtcNow;

    public long ReadNanoseconds() =>
        (long)((Stopwatch.GetTimestamp() - _start) * (1_000_000_000.0 / Stopwatch.Frequency));
}
