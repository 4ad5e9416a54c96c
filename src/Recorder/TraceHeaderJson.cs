using System.Text.Json.Serialization;

namespace VmReplay.Recorder;

/// <summary>
/// The HEAD payload's JSON writer, generated at build time: the reflection-based serializer
/// spent 45 ms of every recording's start (before the guest's first instruction) building its
/// metadata for <see cref="TraceHeader"/>. Same options and output as the reader's.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(TraceHeader))]
internal sealed partial class TraceHeaderJson : JsonSerializerContext;
