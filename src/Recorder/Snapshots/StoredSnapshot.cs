using VmReplay.Engine.Vm;

namespace VmReplay.Recorder.Snapshots;

/// <summary>
/// A snapshot as a trace stores it, decoded but for its device state, which stays the recorded
/// JSON (the board and the run loop's counters, as <see cref="SnapshotCodec.SameDeviceState"/>
/// compares them): what a replay needs to restore or check a snapshot. The replay compares its
/// own machine's device state with those bytes and decodes them only where they differ
/// (<see cref="TraceReader.ReadMachineState"/>). Decoding them at every snapshot was most of the
/// first-use cost a replay paid that a recording did not (the JSON reader's base64 and the
/// device reader's code, 5 to 10 ms of CPU in bench-exits' replay).
/// </summary>
public sealed record StoredSnapshot(
    SnapshotKind Kind,
    long EventIndex,
    long ExitCount,
    long EngineNanoseconds,
    ulong MemoryHash,
    VcpuState Vcpu,
    byte[] DeviceState,
    ulong[] ServicePages,
    ulong[] Pages,
    byte[] PageData);
