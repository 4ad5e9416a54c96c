using VmReplay.Devices.Platform;

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
    byte[] PageData);
