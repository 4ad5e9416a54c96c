namespace VmReplay.Engine.Determinism;

/// <summary>
/// An engine clock whose state is part of the machine: the time it skipped while the guest
/// halted. The run loop keeps it in snapshots. A clock that wraps a virtual clock (a recording's)
/// passes it through.
/// </summary>
public interface IVirtualClock : IEngineClock
{
    long IdleNanoseconds { get; set; }
}
