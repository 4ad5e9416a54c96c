namespace VmReplay.Cli.Commands;

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
