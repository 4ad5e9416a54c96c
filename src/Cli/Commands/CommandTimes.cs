namespace VmReplay.Cli.Commands;

/// <summary>
/// One run of a vmreplay command, in seconds: the whole process's wall time, the part of it
/// before the guest's first instruction (the startup stamp; null if it printed none), and the
/// CPU time its threads spent, user and system.
/// </summary>
internal readonly record struct CommandTime(double Total, double? Start, double Cpu);

/// <summary>A command's <see cref="CommandTime"/>s over a benchmark's rounds.</summary>
internal sealed class CommandTimes
{
    public List<double> Total { get; } = [];

    public List<double> Start { get; } = [];

    public List<double> Cpu { get; } = [];

    public void Add(CommandTime time)
    {
        Total.Add(time.Total);
        if (time.Start is { } start) Start.Add(start);
        Cpu.Add(time.Cpu);
    }
}
