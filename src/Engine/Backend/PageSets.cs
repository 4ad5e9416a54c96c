namespace VmReplay.Engine.Backend;

/// <summary>Linear pages (4 KiB aligned, sorted) read, written and executed from (<see cref="IPageLog"/>).</summary>
public readonly record struct PageSets(ulong[] Read, ulong[] Written, ulong[] Executed)
{
    public static readonly PageSets Empty = new([], [], []);
}
