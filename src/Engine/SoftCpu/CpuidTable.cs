namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The CPUID leaves a processor answers with, as data: a recording stores them and a replay
/// answers with the recorded ones. A leaf above the highest one answers as the highest basic
/// leaf does, as Intel processors do.
/// </summary>
public sealed class CpuidTable
{
    // Ascending by leaf, then subleaf, one entry each. Arrays and loops, not a dictionary of
    // tuples or LINQ: every command on the software CPU builds a table before the guest's first
    // instruction, and each generic instantiation over these value types (the dictionary's, a
    // sort's, an iterator's; no precompiled image holds them) was compiled there: about 45
    // methods, several milliseconds of every start.
    private readonly Backend.CpuidEntry[] _entries;
    private readonly uint[] _indexed;

    /// <param name="entries">Every leaf and subleaf (a later one replaces an earlier one with the same leaf and subleaf); a leaf given only with subleaf 0 answers every subleaf with it.</param>
    /// <param name="indexedLeaves">Leaves whose subleaves differ (ECX selects); others ignore ECX.</param>
    public CpuidTable(IReadOnlyList<Backend.CpuidEntry> entries, uint[] indexedLeaves)
    {
        var sorted = new Backend.CpuidEntry[entries.Count];
        int n = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            int at = n;
            while (at > 0 && Compare(sorted[at - 1], e.Function, e.Index) > 0) at--;
            if (at > 0 && Compare(sorted[at - 1], e.Function, e.Index) == 0)
            {
                sorted[at - 1] = e;
                continue;
            }
            Array.Copy(sorted, at, sorted, at + 1, n - at);
            sorted[at] = e;
            n++;
        }
        _entries = sorted[..n];
        _indexed = indexedLeaves;
        MaxBasic = Lookup(0, 0).Eax;
        MaxExtended = Find(0x8000_0000, 0) is int i0 and >= 0 ? _entries[i0].Eax : 0;
    }

    /// <summary>
    /// A table from a recorded model's leaves; a leaf listed with several subleaves, or one of
    /// <see cref="Cpu.CpuidSubleaves"/>, is indexed by ECX. A model lists leaf 7 only with
    /// subleaf 0 where that is its last (EAX 0): KVM answers subleaf 1 with zeros, and answering
    /// it with subleaf 0 told a replayed Linux that it had Intel's PPIN (subleaf 1 EBX bit 0 read
    /// FSGSBASE), which it then read from MSR 0x4E, an access the KVM recording never made.
    /// </summary>
    public static CpuidTable From(IReadOnlyList<Backend.CpuidEntry> entries)
    {
        var functions = new uint[entries.Count];
        var indexed = new uint[entries.Count + Cpu.CpuidSubleaves.Leaves.Length];
        Cpu.CpuidSubleaves.Leaves.CopyTo(indexed, 0);
        int seen = 0, indexedCount = Cpu.CpuidSubleaves.Leaves.Length;
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            bool again = Array.IndexOf(functions, e.Function, 0, seen) >= 0;
            if (!again) functions[seen++] = e.Function;
            if ((again || e.Index != 0) && Array.IndexOf(indexed, e.Function, 0, indexedCount) < 0) indexed[indexedCount++] = e.Function;
        }
        return new CpuidTable(entries, indexed[..indexedCount]);
    }

    public uint MaxBasic { get; }
    public uint MaxExtended { get; }

    /// <summary>The processor signature (leaf 1 EAX), which EDX holds after RESET.</summary>
    public uint Signature => Lookup(1, 0).Eax;

    /// <summary>Every leaf, ascending by leaf and subleaf (what a trace header records); a copy.</summary>
    public Backend.CpuidEntry[] Entries => (Backend.CpuidEntry[])_entries.Clone();

    /// <summary>Whether leaf 1 EDX (or ECX, with <paramref name="ecx"/>) has bit <paramref name="bit"/>.</summary>
    public bool HasFeature(int bit, bool ecx = false) => ((ecx ? Lookup(1, 0).Ecx : Lookup(1, 0).Edx) >> bit & 1) != 0;

    /// <summary>Whether leaf 0x80000001 EDX has bit <paramref name="bit"/>.</summary>
    public bool HasExtendedFeature(int bit) => (Lookup(0x8000_0001, 0).Edx >> bit & 1) != 0;

    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Lookup(uint leaf, uint subleaf)
    {
        bool extended = leaf >= 0x8000_0000;
        if (!extended && leaf > MaxBasic || extended && leaf > MaxExtended) leaf = MaxBasic;
        if (Array.IndexOf(_indexed, leaf) < 0) subleaf = 0;
        int i = Find(leaf, subleaf);
        if (i < 0) return (0, 0, 0, 0);
        var e = _entries[i];
        return (e.Eax, e.Ebx, e.Ecx, e.Edx);
    }

    // The entry for exactly this leaf and subleaf, or -1.
    private int Find(uint leaf, uint subleaf)
    {
        int lo = 0, hi = _entries.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = Compare(_entries[mid], leaf, subleaf);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    private static int Compare(in Backend.CpuidEntry e, uint leaf, uint subleaf) =>
        e.Function != leaf ? (e.Function < leaf ? -1 : 1) : e.Index == subleaf ? 0 : e.Index < subleaf ? -1 : 1;
}
