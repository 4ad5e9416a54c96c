using System.Text.Json;
using System.Text.Json.Serialization;
using VmReplay.Engine.Backend;
using VmReplay.Engine.KvmBackend;

namespace VmReplay.Recorder;

/// <summary>
/// What a replay needs to rebuild the recorded machine, and what a reader shows about it: the
/// VM configuration, the CPU model, the identity of the guest image and initrd, and the host it
/// ran on. Stored as UTF-8 JSON in the HEAD chunk.
/// </summary>
public sealed record TraceHeader
{
    public required string GuestName { get; init; }
    public required string ImageSha256 { get; init; }
    public required long ImageSize { get; init; }

    // The initrd's file name, SHA-256 and size, all three or none: a guest booted without one
    // (and every version 1 trace) has none, and the JSON leaves them out.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? InitrdName { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? InitrdSha256 { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? InitrdSize { get; init; }

    /// <summary>Whether the guest was booted with an initrd (the trace then holds it in an INRD chunk).</summary>
    [JsonIgnore]
    public bool HasInitrd => InitrdSha256 is not null;

    public required ulong MemorySize { get; init; }
    public required int VcpuCount { get; init; }
    public required string Cmdline { get; init; }
    public required DateTime WallClockBase { get; init; }
    public required string HostKernel { get; init; }
    /// <summary>The KVM capabilities of the recording host; null for a recording on the software CPU.</summary>
    public HostCapabilities? HostCapabilities { get; init; }

    /// <summary>The CPU backend that recorded ("kvm" or "soft"); traces from before format version 3 are KVM recordings.</summary>
    public string Backend { get; init; } = "kvm";
    public required CpuidLeaf[] CpuModel { get; init; }
    public string Recorder { get; init; } = "vmreplay";

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    public static TraceHeader FromJson(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<TraceHeader>(json, Options) ?? throw new JsonException("empty trace header");

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
}

/// <summary>One CPUID leaf of the recorded CPU model.</summary>
public sealed record CpuidLeaf(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    public static CpuidLeaf From(CpuidEntry e) => new(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx);
}
