using System.Text.Json.Serialization;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Format;

/// <summary>
/// Writes device state as <see cref="DeviceStateJsonContext"/> does, byte for byte (a test
/// holds them to it), with the generated code that calls the JSON writer member by member and
/// builds no serializer metadata.
/// </summary>
[JsonSourceGenerationOptions(IncludeFields = true, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(SnapshotCodec.MachinePart))]
[JsonSerializable(typeof(Devices.Platform.PcPlatformState))]
internal sealed partial class DeviceStateJsonWriter : JsonSerializerContext;
