using System.Text.Json.Serialization;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Format;

/// <summary>
/// The device-state serializer snapshots are written and read with, generated at build time:
/// building it by reflection took the writer thread 40 to 80 ms at the first snapshot, while the
/// vCPU thread filled its queue, and a replay 30 to 40 ms before its first instruction. It writes
/// what <see cref="SnapshotCodec.DeviceStateJson"/> writes, byte for byte (a test holds them to
/// it). A snapshot that lacks a member is read with that reflection-based one, which keeps the
/// member's declared default (dotnet/runtime#84484; see <see cref="SnapshotCodec.ReadDeviceState"/>).
/// </summary>
[JsonSourceGenerationOptions(IncludeFields = true)]
[JsonSerializable(typeof(SnapshotCodec.MachinePart))]
internal sealed partial class DeviceStateJsonContext : JsonSerializerContext;
