namespace VmReplay.Engine.Run;

/// <summary>
/// The run loop's counts and VMM-side CPU state at a point of a run, as a snapshot keeps them:
/// exits handled, interrupts delivered, instructions the VMM emulated, the TSC offset the guest
/// set through the MSRs the VMM answers, and the instructions retired where the backend counts
/// them exactly (null on KVM), and the guest time a virtual clock skipped while halted (null
/// with host time). Members added later are absent from older snapshots and read as
/// their defaults.
/// </summary>
public readonly record struct RunnerCounters(long ExitCount, long InterruptsDelivered, long EmulatedInstructions, long TscOffset = 0, long? Instructions = null, long? IdleNanoseconds = null)
{
    // Member by member: the generated equality goes through EqualityComparer<long?>, whose code
    // the JIT compiled at every replay's first snapshot check, on the vCPU thread.
    public bool Equals(RunnerCounters other) =>
        ExitCount == other.ExitCount && InterruptsDelivered == other.InterruptsDelivered && EmulatedInstructions == other.EmulatedInstructions
        && TscOffset == other.TscOffset && Instructions == other.Instructions && IdleNanoseconds == other.IdleNanoseconds;

    public override int GetHashCode() => HashCode.Combine(ExitCount, InterruptsDelivered, EmulatedInstructions, TscOffset, Instructions, IdleNanoseconds);
}
