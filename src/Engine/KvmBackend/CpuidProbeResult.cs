using System.Text;

namespace VmReplay.Engine.KvmBackend;

/// <summary>
/// What <see cref="CpuidProbe"/> found: the features <see cref="CpuModel"/> hides that a guest
/// on this host still sees through CPUID. Empty lists mean KVM applied the model.
/// </summary>
public sealed class CpuidProbeResult
{
    public CpuidProbeResult(IReadOnlyList<CpuidRemoval> hiddenBitsSeen, IReadOnlyList<uint> removedLeavesSeen, IReadOnlyList<Kvm.Abi.KvmCpuidEntry2>? leavesSeen = null)
    {
        HiddenBitsSeen = hiddenBitsSeen;
        RemovedLeavesSeen = removedLeavesSeen;
        LeavesSeen = leavesSeen ?? [];
    }

    /// <summary>Every leaf and subleaf the guest read otherwise than the model says, as it read them (<see cref="CpuidProbe.Seen"/>).</summary>
    public IReadOnlyList<Kvm.Abi.KvmCpuidEntry2> LeavesSeen { get; }

    /// <summary>Feature bits the model clears that the guest reads as set, in <see cref="CpuModel.Removals"/> order.</summary>
    public IReadOnlyList<CpuidRemoval> HiddenBitsSeen { get; }

    /// <summary>Leaves the model removes as a whole (<see cref="CpuModel.RemovedLeaves"/>) that the guest still reads.</summary>
    public IReadOnlyList<uint> RemovedLeavesSeen { get; }

    /// <summary>True when the guest sees nothing the model hides.</summary>
    public bool ModelApplied => HiddenBitsSeen.Count == 0 && RemovedLeavesSeen.Count == 0;

    /// <summary>
    /// One line for the user, without a "warning:" prefix: which leaves KVM did not filter and
    /// which features the guest therefore still sees.
    /// </summary>
    public string Describe()
    {
        if (ModelApplied) return "this host's KVM applies the CPU model: the guest sees none of the features it hides";
        var leaves = HiddenBitsSeen.Select(r => r.Leaf).Concat(RemovedLeavesSeen).Distinct().Order();
        var seen = HiddenBitsSeen.Select(r => r.Feature).Concat(RemovedLeavesSeen.Select(l => $"leaf {LeafName(l)}"));
        var line = new StringBuilder()
            .Append("this host's KVM does not apply the CPU model to CPUID leaves ")
            .AppendJoin(", ", leaves.Select(LeafName))
            .Append(": the guest still sees ")
            .AppendJoin(", ", seen)
            .Append(" (hide them in the guest, e.g. Linux clearcpuid=); values it reads with them are not recorded");
        return line.ToString();
    }

    // Small leaves as the manuals write them (1, 7); the rest in hex (0xD, 0x80000001).
    private static string LeafName(uint leaf) => leaf <= 9 ? leaf.ToString() : $"0x{leaf:X}";
}
