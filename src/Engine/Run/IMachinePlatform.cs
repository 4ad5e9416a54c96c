namespace VmReplay.Engine.Run;

/// <summary>
/// The board the run loop drives: device buses, the interrupt controller and timers. The
/// engine knows nothing about which devices exist; a PC platform implements this.
/// </summary>
public interface IMachinePlatform
{
    void PortRead(ushort port, Span<byte> data);

    void PortWrite(ushort port, ReadOnlySpan<byte> data);

    void MmioRead(ulong address, Span<byte> data);

    void MmioWrite(ulong address, ReadOnlySpan<byte> data);

    /// <summary>The interrupt controller asserts its output to the CPU.</summary>
    bool HasPendingInterrupt { get; }

    /// <summary>The CPU's interrupt-acknowledge cycle: returns the vector to deliver.</summary>
    byte AcknowledgeInterrupt();

    /// <summary>Earliest engine-clock deadline of any timer, or null.</summary>
    long? NextDeadlineNanoseconds { get; }

    /// <summary>Brings every timer up to <paramref name="nowNanoseconds"/>.</summary>
    void AdvanceTo(long nowNanoseconds);

    /// <summary>Lets devices take host input that may have arrived.</summary>
    void PollInput();

    /// <summary>Set by a device that ends the machine (debug-exit, reset); checked at every stop.</summary>
    RunOutcome? StopRequest { get; }
}
