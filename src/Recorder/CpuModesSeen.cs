using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using VmReplay.Engine.Vm;

namespace VmReplay.Recorder;

/// <summary>
/// The CPU modes a recorded guest was seen in, at its snapshots and at its end (the MODE chunk,
/// UTF-8 JSON). A debugger needs it before replaying: gdb must be given a 64-bit register
/// description for a guest that enters long mode, even one booted from a 32-bit image.
/// </summary>
public sealed partial record CpuModesSeen(bool LongMode)
{
    private const ulong EferLma = 1UL << 10;

    /// <summary>Whether <paramref name="sregs"/> is a vCPU in long mode (EFER.LMA).</summary>
    public static bool InLongMode(in SystemRegisters sregs) => (sregs.Efer & EferLma) != 0;

    // Written member by member, as JsonSerializer writes this record (a test holds them to it):
    // the serializer, even source-generated, spent 3 to 4 ms of every recording's end building
    // its metadata for this one boolean.
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var w = new Utf8JsonWriter(buffer, Format.TraceJsonEncoder.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteBoolean(nameof(LongMode), LongMode);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static CpuModesSeen FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, Json.Default.CpuModesSeen) ?? throw new JsonException("empty MODE record");

    [JsonSerializable(typeof(CpuModesSeen))]
    private sealed partial class Json : JsonSerializerContext;
}
