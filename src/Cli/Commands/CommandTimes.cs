namespace VmReplay.Cli.Commands;

/// <summary>
/// The wall times of one vmreplay command over a benchmark's rounds, in seconds: each whole
/// process, and the part of it before the guest's first instruction (the startup stamp), where
/// the command printed one.
/// </summary>
internal sealed class CommandTimes
{
    public List<double> Total { get; } = [];

    public List<double> Start { get; } = [];

    public void Add((double Total, double? Start) time)
    {
        Total.Add(time.Total);
        if (time.Start is { } start) Start.Add(start);
    }
}
