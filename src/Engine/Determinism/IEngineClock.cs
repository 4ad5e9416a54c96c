namespace VmReplay.Engine.Determinism;

/// <summary>
/// The only source of time for the VMM and its devices. Every reading is an input to the
/// machine: a recorder logs it and a replayer feeds the logged value back, so no device may
/// read wall time any other way.
/// </summary>
public interface IEngineClock
{
    /// <summary>Guest time in nanoseconds since the machine was created; never decreases.</summary>
    long ReadNanoseconds();

    /// <summary>The wall-clock time at engine time 0 (the RTC starts from it); read once, so it can be recorded.</summary>
    DateTime WallClockBase { get; }
}
