namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// One action of a vCont packet. <paramref name="Kind"/> is c, s, t, r, C or S (the signal of C/S
/// is parsed and dropped: a replayed guest takes no injected signals). <paramref name="Thread"/> is
/// null when the action applies to every thread not named by an earlier action; -1 also means all.
/// The range is only meaningful for r: step while start &lt;= pc &lt; end.
/// </summary>
public sealed record VContAction(char Kind, long? Thread, ulong RangeStart = 0, ulong RangeEnd = 0);
