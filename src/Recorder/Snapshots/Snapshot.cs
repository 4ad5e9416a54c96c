using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// A machine state at the checkpoint after exit <see cref="ExitCount"/>, when
/// <see cref="EventIndex"/> events had been recorded: the vCPU, devices and run-loop counters,
/// the pages it holds (all non-zero pages, or those written since the previous snapshot), a hash
/// of those pages, and the pages written since the last service point (which a forced service
/// point's hash covers).
/// </summary>
public sealed record Snapshot(
    SnapshotKind Kind,
    long EventIndex,
    long ExitCount,
    long EngineNanoseconds,
    ulong MemoryHash,
    MachineState Machine,
    ulong[] ServicePages,
    ulong[] Pages,
    byte[] PageData)
{
    private const int PageSize = (int)GuestMemory.PageSize;

    /// <summary>The current contents of <paramref name="pages"/>, back to back (what <see cref="PageData"/> holds).</summary>
    public static byte[] CopyPages(GuestMemory memory, IReadOnlyList<ulong> pages)
    {
        // Every byte is copied over: zeroing it first cost the vCPU thread a pass over the whole
        // copy (4.7 MB at the Linux boot's start).
        var data = GC.AllocateUninitializedArray<byte>(pages.Count * PageSize);
        for (int i = 0; i < pages.Count; i++) memory.GetSpan(pages[i], PageSize).CopyTo(data.AsSpan(i * PageSize));
        return data;
    }

    /// <summary>Writes this snapshot's pages into <paramref name="memory"/> (after a full snapshot's base was laid down, for an incremental one).</summary>
    public void RestorePages(GuestMemory memory)
    {
        for (int i = 0; i < Pages.Length; i++) memory.RestorePage(Pages[i], PageData.AsSpan(i * PageSize, PageSize));
    }
}
