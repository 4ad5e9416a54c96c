using System.Text.Json.Serialization;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Format;

/// <summary>
/// The device-state serializer a recording writes snapshots with, generated at build time:
/// building it by reflection took the writer thread 40 to 80 ms at the first snapshot, while the
/// vCPU thread filled its queue. It writes what <see cref="SnapshotCodec.DeviceStateJson"/>
/// writes, byte for byte (a test holds them to it); reading stays with that reflection-based one,
/// which keeps the defaults of members an older snapshot lacks (dotnet/runtime#84484).
/// </summary>
[JsonSourceGenerationOptions(IncludeFields = true)]
[JsonSerializable(typeof(SnapshotCodec.MachinePart))]
internal sealed partial class DeviceStateJsonContext : JsonSerializerContext;
