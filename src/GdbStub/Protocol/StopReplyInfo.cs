namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// What a T stop reply says: the signal (5 = SIGTRAP for breakpoints and steps), the thread that
/// stopped (1-based), and the cause; <paramref name="WatchAddress"/> is the data address for the
/// three watch causes.
/// </summary>
public sealed record StopReplyInfo(int Signal, long Thread, StopCause Cause, ulong WatchAddress = 0);
