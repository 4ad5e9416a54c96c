namespace VmReplay.Engine.Backend;

/// <summary>Linear pages (4 KiB aligned, sorted) written and executed from (<see cref="IPageLog"/>).</summary>
public readonly record struct PageSets(ulong[] Written, ulong[] Executed)
{
    public static readonly PageSets Empty = new([], []);
}
