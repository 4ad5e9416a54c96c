using System.Text.Json;
using VmReplay.Engine.Vm;

namespace VmReplay.Recorder;

/// <summary>
/// The CPU modes a recorded guest was seen in, at its snapshots and at its end (the MODE chunk,
/// UTF-8 JSON). A debugger needs it before replaying: gdb must be given a 64-bit register
/// description for a guest that enters long mode, even one booted from a 32-bit image.
/// </summary>
public sealed record CpuModesSeen(bool LongMode)
{
    private const ulong EferLma = 1UL << 10;

    /// <summary>Whether <paramref name="sregs"/> is a vCPU in long mode (EFER.LMA).</summary>
    public static bool InLongMode(in SystemRegisters sregs) => (sregs.Efer & EferLma) != 0;

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static CpuModesSeen FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<CpuModesSeen>(json) ?? throw new JsonException("empty MODE record");
}
