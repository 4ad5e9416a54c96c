namespace VmReplay.Cli.Commands;

/// <summary>
/// One run of a vmreplay command, in seconds: the whole process's wall time, the part of it
/// before the guest's first instruction (the startup stamp; null if it printed none), and the
/// CPU time its threads spent, user and system.
/// </summary>
internal readonly record struct CommandTime(double Total, double? Start, double Cpu);
