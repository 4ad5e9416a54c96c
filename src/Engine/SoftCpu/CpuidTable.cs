namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The CPUID leaves a processor answers with, as data: a recording stores them and a replay
/// answers with the recorded ones. A leaf above the highest one answers as the highest basic
/// leaf does, as Intel processors do.
/// </summary>
public sealed class CpuidTable
{
    private readonly Dictionary<(uint Leaf, uint Subleaf), (uint Eax, uint Ebx, uint Ecx, uint Edx)> _leaves = new();
    private readonly HashSet<uint> _indexed = new();

    /// <param name="leaves">Every leaf and subleaf; a leaf given only with subleaf 0 answers every subleaf with it.</param>
    /// <param name="indexedLeaves">Leaves whose subleaves differ (ECX selects); others ignore ECX.</param>
    public CpuidTable(IEnumerable<(uint Leaf, uint Subleaf, uint Eax, uint Ebx, uint Ecx, uint Edx)> leaves, IEnumerable<uint> indexedLeaves)
    {
        foreach (var l in leaves) _leaves[(l.Leaf, l.Subleaf)] = (l.Eax, l.Ebx, l.Ecx, l.Edx);
        foreach (uint l in indexedLeaves) _indexed.Add(l);
        MaxBasic = Lookup(0, 0).Eax;
        MaxExtended = _leaves.TryGetValue((0x8000_0000, 0), out var e) ? e.Eax : 0;
    }

    /// <summary>A table from a recorded model's leaves; a leaf listed with several subleaves is indexed by ECX.</summary>
    public static CpuidTable From(IReadOnlyList<Backend.CpuidEntry> entries)
    {
        // Loops rather than LINQ's grouping: this runs at the start of every replay, and each
        // generic instantiation over CpuidEntry was compiled there, on the way to the first
        // instruction.
        var leaves = new List<(uint, uint, uint, uint, uint, uint)>(entries.Count);
        var seen = new HashSet<uint>();
        var indexed = new HashSet<uint>();
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            leaves.Add((e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx));
            if (!seen.Add(e.Function) || e.Index != 0) indexed.Add(e.Function);
        }
        return new CpuidTable(leaves, indexed);
    }

    public uint MaxBasic { get; }
    public uint MaxExtended { get; }

    /// <summary>The processor signature (leaf 1 EAX), which EDX holds after RESET.</summary>
    public uint Signature => Lookup(1, 0).Eax;

    /// <summary>Every leaf, in order (what a trace header records).</summary>
    public IEnumerable<(uint Leaf, uint Subleaf, uint Eax, uint Ebx, uint Ecx, uint Edx)> Leaves =>
        _leaves.OrderBy(kv => kv.Key.Leaf).ThenBy(kv => kv.Key.Subleaf)
            .Select(kv => (kv.Key.Leaf, kv.Key.Subleaf, kv.Value.Eax, kv.Value.Ebx, kv.Value.Ecx, kv.Value.Edx));

    /// <summary>Whether leaf 1 EDX (or ECX, with <paramref name="ecx"/>) has bit <paramref name="bit"/>.</summary>
    public bool HasFeature(int bit, bool ecx = false) => ((ecx ? Lookup(1, 0).Ecx : Lookup(1, 0).Edx) >> bit & 1) != 0;

    /// <summary>Whether leaf 0x80000001 EDX has bit <paramref name="bit"/>.</summary>
    public bool HasExtendedFeature(int bit) => (Lookup(0x8000_0001, 0).Edx >> bit & 1) != 0;

    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Lookup(uint leaf, uint subleaf)
    {
        bool extended = leaf >= 0x8000_0000;
        if (!extended && leaf > MaxBasic || extended && leaf > MaxExtended) leaf = MaxBasic;
        if (!_indexed.Contains(leaf)) subleaf = 0;
        return _leaves.TryGetValue((leaf, subleaf), out var v) ? v : (0, 0, 0, 0);
    }
}
