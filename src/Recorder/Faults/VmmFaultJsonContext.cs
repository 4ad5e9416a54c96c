using System.Text.Json.Serialization;

namespace VmReplay.Recorder.Faults;

/// <summary>The fault record's serializer, generated at build time: the native build has no reflection to build one.</summary>
[JsonSerializable(typeof(VmmFault))]
internal sealed partial class VmmFaultJsonContext : JsonSerializerContext;
