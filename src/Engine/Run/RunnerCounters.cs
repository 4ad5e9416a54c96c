namespace VmReplay.Engine.Run;

/// <summary>
/// The run loop's counts and VMM-side CPU state at a point of a run, as a snapshot keeps them:
/// exits handled, interrupts delivered, instructions the VMM emulated, the TSC offset the guest
/// set through the MSRs the VMM answers, and the instructions retired where the backend counts
/// them exactly (null on KVM), and the guest time a virtual clock skipped while halted (null
/// with host time). Members added later are absent from older snapshots and read as
/// their defaults.
/// </summary>
public readonly record struct RunnerCounters(long ExitCount, long InterruptsDelivered, long EmulatedInstructions, long TscOffset = 0, long? Instructions = null, long? IdleNanoseconds = null);
