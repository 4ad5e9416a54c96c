namespace VmReplay.Replayer;

/// <summary>
/// The guest-memory differences a replay met where everything else matched: the same exits in
/// the same order with the same fingerprints, the same registers and device states at every
/// snapshot, the same pages written. Such a difference comes from a value the guest read that
/// the VMM cannot record (RDTSC, which KVM cannot intercept, is the one known source): it lands
/// in data (an entropy pool, a dead stack slot), not in control flow, since control flow that
/// depended on it would show up as a different exit, register or page set, a divergence.
/// <para>
/// Unless <see cref="Strict"/>, the replay goes on past them: at a snapshot it takes the
/// recorded memory, so every snapshot's state is the recorded one again (and a reverse step
/// that restores a snapshot sees the same machine a straight replay saw); at a forced point it
/// accepts equal registers without equal written memory. Every difference is kept here and
/// reported; none is silent.
/// </para>
/// </summary>
public sealed class MemoryDifferences
{
    /// <summary>Stop at the first difference, as at any other divergence.</summary>
    public bool Strict { get; set; }

    /// <summary>Snapshots at which guest memory differed and was taken from the recording.</summary>
    public int Snapshots { get; private set; }

    /// <summary>Bytes that differed, summed over those snapshots.</summary>
    public long Bytes { get; private set; }

    /// <summary>Forced points taken on equal registers while the memory written since the previous service point differed.</summary>
    public int ForcedPoints { get; private set; }

    /// <summary>Whether the final memory hash differed (registers and outcome matched).</summary>
    public bool AtEnd { get; private set; }

    /// <summary>The first snapshot difference, with the bytes that differed first.</summary>
    public string? First { get; private set; }

    /// <summary>The first forced point taken without equal memory.</summary>
    public string? FirstForcedPoint { get; private set; }

    /// <summary>Points (snapshots, forced points) where only flags the SDM leaves undefined differed; the recorded ones were taken (see <see cref="UndefinedFlags"/>).</summary>
    public int FlagPoints { get; private set; }

    /// <summary>The first of <see cref="FlagPoints"/>.</summary>
    public string? FirstFlagPoint { get; private set; }

    public bool Any => Snapshots > 0 || ForcedPoints > 0 || AtEnd;

    public void InUndefinedFlags(string where)
    {
        FlagPoints++;
        FirstFlagPoint ??= where;
    }

    public void AtSnapshot(string where, long bytes, string detail)
    {
        Snapshots++;
        Bytes += bytes;
        First ??= $"{where}: {bytes} bytes, first at guest-physical {detail}";
    }

    public void AtForcedPoint(string where)
    {
        ForcedPoints++;
        FirstForcedPoint ??= where;
    }

    public void AtTheEnd() => AtEnd = true;

    /// <summary>One paragraph for the end of a replay, or null when memory matched throughout.</summary>
    public string? Summary()
    {
        string? flags = FlagPoints == 0 ? null
            : $"flags that say nothing of the guest's path (AF, which the SDM leaves undefined after some instructions; RF, which a hardware vCPU reports where it stopped mid-instruction or shut down) differed from the recording processor's at {Count(FlagPoints, "point")} (first {FirstFlagPoint}), where the replay took the recorded AF.";
        if (!Any) return flags;
        var parts = new List<string>();
        if (Snapshots > 0) parts.Add($"at {Count(Snapshots, "snapshot")} ({Bytes} bytes; first {First}), where the replay took the recorded memory and went on");
        if (ForcedPoints > 0) parts.Add($"at {Count(ForcedPoints, "forced point")} taken on equal registers (first {FirstForcedPoint})");
        if (AtEnd) parts.Add("at the end (final memory hash)");
        return "guest memory differed from the recording in data only (every exit, register and device state matched): "
            + string.Join("; ", parts)
            + ". The guest read values the VMM cannot record (RDTSC; see README, \"RDTSC\"); --strict stops at the first difference."
            + (flags is null ? "" : " Also: " + flags);
    }

    private static string Count(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";
}
