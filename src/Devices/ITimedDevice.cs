namespace VmReplay.Devices;

/// <summary>
/// A device whose behaviour depends on the passage of guest time (a timer). The VMM asks
/// for its next deadline, arranges to stop the vCPU then, and calls <see cref="AdvanceTo"/>
/// with a reading of the engine clock.
/// </summary>
public interface ITimedDevice
{
    /// <summary>Engine-clock time (ns) of the next event this device will raise, or null if none is armed.</summary>
    long? NextDeadlineNanoseconds { get; }

    /// <summary>Brings the device up to <paramref name="nowNanoseconds"/>, raising any interrupts that fell due.</summary>
    void AdvanceTo(long nowNanoseconds);
}
