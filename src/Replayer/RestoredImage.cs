using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Replayer;

/// <summary>
/// Guest RAM as one snapshot leaves it (its full base and every incremental snapshot up to it),
/// kept decoded. Restoring the same snapshot again, as reverse stepping does over and over,
/// then rewrites only the pages the replay wrote since, instead of decoding the whole chain.
/// </summary>
internal sealed class RestoredImage
{
    private static readonly byte[] ZeroPage = new byte[GuestMemory.PageSize];
    private readonly Dictionary<ulong, (byte[] Data, int Offset)> _pages = new();

    private readonly IReadOnlyList<StoredSnapshot> _chain;

    /// <param name="chain">The full snapshot first, then the incremental ones in order, up to snapshot <paramref name="number"/>.</param>
    public RestoredImage(int number, IReadOnlyList<StoredSnapshot> chain)
    {
        Number = number;
        Base = number - (chain.Count - 1);
        Target = chain[^1];
        _chain = chain;
        foreach (var s in chain)
            for (int i = 0; i < s.Pages.Length; i++)
                _pages[s.Pages[i]] = (s.PageData, i * (int)GuestMemory.PageSize);
    }

    /// <summary>The snapshot this image is the RAM of.</summary>
    public int Number { get; }

    /// <summary>The full snapshot its chain starts at.</summary>
    public int Base { get; }

    /// <summary>
    /// The pages where this image and <paramref name="other"/>, built on the same full snapshot,
    /// may differ: those of the incremental snapshots one of them holds and the other does not.
    /// </summary>
    public IEnumerable<ulong> PagesDifferingFrom(RestoredImage other)
    {
        var longer = Number > other.Number ? this : other;
        int shorter = Math.Min(Number, other.Number);
        for (int n = shorter + 1; n <= longer.Number; n++)
            foreach (ulong page in longer._chain[n - longer.Base].Pages)
                yield return page;
    }

    /// <summary>That snapshot (its machine state, event index, service pages).</summary>
    public StoredSnapshot Target { get; }

    /// <summary>Its machine state with the device state decoded, once a restore needed it (kept for the next).</summary>
    public MachineState? DecodedState { get; set; }

    /// <summary>Writes the whole image: RAM cleared, then every page the chain holds.</summary>
    public void WriteAll(GuestMemory memory)
    {
        memory.Clear();
        foreach (var (gpa, page) in _pages) memory.RestorePage(gpa, Page(page));
    }

    /// <summary>Puts back <paramref name="written"/> (pages changed since the image was last written in full or in part).</summary>
    public void Rewrite(GuestMemory memory, IEnumerable<ulong> written)
    {
        foreach (ulong gpa in written)
            memory.RestorePage(gpa, _pages.TryGetValue(gpa, out var page) ? Page(page) : ZeroPage);
    }

    private static ReadOnlySpan<byte> Page((byte[] Data, int Offset) p) => p.Data.AsSpan(p.Offset, (int)GuestMemory.PageSize);
}
