namespace VmReplay.Replayer;

/// <summary>
/// A stretch of the replay did not do what an earlier pass over it did: a breakpoint or
/// watchpoint hit did not recur, or a position reached before was not reached again. Reverse
/// execution relies on every pass being the same; where the guest computed data from a value
/// the VMM cannot record (RDTSC on KVM), a watched value can differ between passes.
/// </summary>
public sealed class ReplayNondeterminismException(string message) : Exception(message);
