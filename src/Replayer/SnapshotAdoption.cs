namespace VmReplay.Replayer;

/// <summary>
/// A snapshot check about to take the recording's bytes of some pages where the replay computed
/// others: the replay's own value of every watched range on those pages, kept to tell that write
/// from the guest's. It belongs to the one stop at which the check ran.
/// </summary>
/// <param name="Snapshot">The snapshot's number.</param>
/// <param name="Event">The events consumed at the stop where it was checked.</param>
/// <param name="Before">The replay's value of each watched range on the adopted pages.</param>
internal sealed record SnapshotAdoption(int Snapshot, long Event, IReadOnlyDictionary<WatchedRange, byte[]> Before)
{
    /// <summary>For a debugger's console: no guest instruction wrote <paramref name="recorded"/> over <paramref name="replayed"/> in <paramref name="watch"/>.</summary>
    public string Note(WatchedRange watch, byte[] replayed, byte[] recorded) =>
        $"vmreplay: watchpoint 0x{watch.Address:x}: no guest instruction wrote this value. At the VM exit of the instruction " +
        $"next to this stop (event {Event}) the replay checked the recording's snapshot {Snapshot}, which holds " +
        $"{Convert.ToHexString(recorded)} at this address where this pass of the replay had computed {Convert.ToHexString(replayed)}, " +
        "and took the recorded bytes. The guest derived them from a value vmreplay cannot record (RDTSC; see README, \"RDTSC\"), " +
        "which differs on every pass; reverse-continue goes on to the guest's own store.\n";
}
