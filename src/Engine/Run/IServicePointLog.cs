namespace VmReplay.Engine.Run;

/// <summary>
/// Where a recording logs the stops at which the run loop services host events: told of each
/// stop at which <see cref="IHostEvents.TakeDue"/> answered true, before anything is serviced
/// there, so that a replay services at the same points.
/// </summary>
public interface IServicePointLog
{
    /// <summary>Something is due at <paramref name="stop"/> and is serviced there.</summary>
    void Serviced(in StopPoint stop);
}
