using System.Text.Json;
using System.Text.Json.Serialization;
using VmReplay.Engine.Backend;

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

    /// <summary>
    /// Where guest time came from: "host" (every reading is in the trace) or "virtual" (the
    /// instruction count, <see cref="NanosecondsPerInstruction"/> per instruction: nothing recorded).
    /// </summary>
    public string Clock { get; init; } = "host";

    /// <summary>Guest nanoseconds per retired instruction of a virtual clock; null with host time.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? NanosecondsPerInstruction { get; init; }

    /// <summary>
    /// The retired-instruction limit the guest ran under (<c>--max-instructions</c>, software CPU),
    /// where the recording had one: a replay stops at the same count, where the recording ended.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? MaxInstructions { get; init; }
    public required CpuidLeaf[] CpuModel { get; init; }

    /// <summary>
    /// The leaves the recorded guest read otherwise than <see cref="CpuModel"/> says, as it read
    /// them (a KVM host that does not apply the model to some leaves), or null where it saw the
    /// model. A replay on the software CPU answers CPUID with these over the model.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CpuidLeaf[]? CpuidSeen { get; init; }

    /// <summary>
    /// Which MSR accesses were exits the VMM answered: <see cref="AllMsrsExit"/> (every MSR but
    /// the ones the vCPU answers itself; every recording from 2026-12-04 on, on either backend),
    /// or null in a KVM recording made before, where KVM answered all but the TSC family itself
    /// (a replay on KVM then filters as that recording did).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MsrExits { get; init; }

    /// <summary>The value of <see cref="MsrExits"/> for a recording where every MSR but the vCPU's own was an exit.</summary>
    public const string AllMsrsExit = "all";

    /// <summary>A KVM recording made before <see cref="MsrExits"/> was written: KVM answered every MSR but the TSC family itself.</summary>
    [JsonIgnore]
    public bool KvmAnsweredMostMsrs => Backend == CpuBackendKind.Kvm.Name() && MsrExits is null;

    /// <summary>A software-CPU recording made before <see cref="MsrExits"/> was written: an MSR access the VMM refused raised no #GP.</summary>
    [JsonIgnore]
    public bool RefusedMsrsDidNotFault => Backend == CpuBackendKind.Soft.Name() && MsrExits is null;
    public string Recorder { get; init; } = "vmreplay";

    public byte[] ToJson() => TraceHeaderJson.Write(this);

    /// <summary>
    /// Reads a small header, on a thread a replay starts first thing: the JSON reader's first use
    /// costs about 12 ms of CPU (the runtime loading and preparing its types), which a replay's
    /// main thread paid on its way to the guest's first instruction. Says whether it read one.
    /// </summary>
    public static bool WarmUp()
    {
        try { return FromJson(WarmUpJson).GuestName == "warm-up"; }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException) { return false; }
    }

    private static ReadOnlySpan<byte> WarmUpJson => """
        {"GuestName": "warm-up", "ImageSha256": "0000000000000000000000000000000000000000000000000000000000000000",
         "ImageSize": 1, "MemorySize": 4096, "VcpuCount": 1, "Cmdline": "", "WallClockBase": "2000-01-01T00:00:00Z",
         "HostKernel": "", "HostCapabilities": null, "Backend": "soft", "Clock": "virtual", "NanosecondsPerInstruction": 10,
         "CpuModel": [{"Function": 0, "Index": 0, "Eax": 0, "Ebx": 0, "Ecx": 0, "Edx": 0}]}
        """u8;

    /// <summary>
    /// Reads a HEAD payload; throws <see cref="JsonException"/> when it is not JSON of this shape
    /// and <see cref="FormatException"/> naming the member when a value breaks the format's rules
    /// (<see cref="Problem"/>).
    /// </summary>
    public static TraceHeader FromJson(ReadOnlySpan<byte> json)
    {
        var header = TraceHeaderJson.Read(json);
        if (header.Problem() is { } problem) throw new FormatException(problem);
        return header;
    }

    // Limits a reader enforces (traces/FORMAT.md, "HEAD, IMGZ and INRD payloads"): what a
    // recorder can write, with room to spare, and small enough for a table or a report line.
    internal const int MaxNameLength = 255;         // NAME_MAX: the names are file names
    internal const int MaxCmdlineLength = 0xFFFF;   // the command-line area vmreplay gives a kernel
    internal const int MaxShortTextLength = 256;    // a kernel release, the recorder's name
    internal const int MaxCpuidLeaves = 256;        // KVM_MAX_CPUID_ENTRIES
    internal const int MaxVcpus = 4096;             // KVM's largest KVM_CAP_MAX_VCPUS
    internal const ulong MaxMemorySize = 1UL << 52; // x86-64's physical address space
    internal const long MaxNanosecondsPerInstruction = 1_000_000; // a virtual clock's step: 0 would divide by zero

    /// <summary>
    /// What is wrong with this header as read from a trace, in one line naming the member; null
    /// when nothing is. The serializer leaves a member null whatever its declared nullability,
    /// so every member the rest of vmreplay relies on is checked here, once.
    /// </summary>
    public string? Problem()
    {
        if (Text(GuestName, nameof(GuestName), MaxNameLength) is { } name) return name;
        if (Sha256Problem(ImageSha256, nameof(ImageSha256)) is { } sha) return sha;
        if (ImageSize is < 0 or > Format.TraceFormat.MaxPayload) return $"{nameof(ImageSize)} {ImageSize} is outside 0..{Format.TraceFormat.MaxPayload}";
        if (InitrdName is not null || InitrdSha256 is not null || InitrdSize is not null)
        {
            if (InitrdName is null || InitrdSha256 is null || InitrdSize is null)
                return "it names an initrd without all of InitrdName, InitrdSha256 and InitrdSize";
            if (Text(InitrdName, nameof(InitrdName), MaxNameLength) is { } initrdName) return initrdName;
            if (Sha256Problem(InitrdSha256, nameof(InitrdSha256)) is { } initrdSha) return initrdSha;
            if (InitrdSize is < 1 or > Format.TraceFormat.MaxPayload) return $"{nameof(InitrdSize)} {InitrdSize} is outside 1..{Format.TraceFormat.MaxPayload}";
        }
        if (MemorySize == 0 || MemorySize % 4096 != 0 || MemorySize > MaxMemorySize)
            return $"{nameof(MemorySize)} {MemorySize} is not a whole number of 4 KiB pages up to {MaxMemorySize} bytes";
        if (VcpuCount is < 1 or > MaxVcpus) return $"{nameof(VcpuCount)} {VcpuCount} is outside 1..{MaxVcpus}";
        if (Text(Cmdline, nameof(Cmdline), MaxCmdlineLength, mayBeEmpty: true) is { } cmdline) return cmdline;
        if (Text(HostKernel, nameof(HostKernel), MaxShortTextLength, mayBeEmpty: true) is { } kernel) return kernel;
        if (Backend is not ("kvm" or "soft")) return Backend is null ? $"{nameof(Backend)} is null" : $"{nameof(Backend)} '{Shorten(Backend)}' is neither kvm nor soft";
        if (Clock is not ("host" or "virtual")) return Clock is null ? $"{nameof(Clock)} is null" : $"{nameof(Clock)} '{Shorten(Clock)}' is neither host nor virtual";
        if (NanosecondsPerInstruction is < 1 or > MaxNanosecondsPerInstruction)
            return $"{nameof(NanosecondsPerInstruction)} {NanosecondsPerInstruction} is outside 1..{MaxNanosecondsPerInstruction}";
        if (MaxInstructions is < 1) return $"{nameof(MaxInstructions)} {MaxInstructions} is not a positive count";
        if (CpuModel is null) return $"{nameof(CpuModel)} is null";
        if (CpuModel.Length > MaxCpuidLeaves) return $"{nameof(CpuModel)} has {CpuModel.Length} leaves, more than {MaxCpuidLeaves}";
        if (Array.IndexOf(CpuModel, null) is var at and >= 0) return $"{nameof(CpuModel)} leaf {at} is null";
        if (CpuidSeen?.Length > MaxCpuidLeaves) return $"{nameof(CpuidSeen)} has {CpuidSeen.Length} leaves, more than {MaxCpuidLeaves}";
        if (CpuidSeen is not null && Array.IndexOf(CpuidSeen, null) is var seenAt and >= 0) return $"{nameof(CpuidSeen)} leaf {seenAt} is null";
        if (MsrExits is not (null or AllMsrsExit)) return $"{nameof(MsrExits)} '{Shorten(MsrExits)}' is not {AllMsrsExit}";
        if (Text(Recorder, nameof(Recorder), MaxShortTextLength, mayBeEmpty: true) is { } recorder) return recorder;
        return null;
    }

    private static string? Text(string? value, string member, int maxLength, bool mayBeEmpty = false) =>
        value is null ? $"{member} is null"
        : value.Length == 0 && !mayBeEmpty ? $"{member} is empty"
        : value.Length > maxLength ? $"{member} is {value.Length} characters long, more than {maxLength}"
        : null;

    private static string? Sha256Problem(string? value, string member) =>
        value is null ? $"{member} is null"
        : value.Length != 64 || !value.All(char.IsAsciiHexDigit) ? $"{member} '{Shorten(value)}' is not 64 hex digits"
        : null;

    // A value quoted in a one-line message: control characters shown as '.', long ones cut.
    private static string Shorten(string s)
    {
        var printable = new string(s.Take(65).Select(c => char.IsControl(c) ? '.' : c).ToArray());
        return printable.Length <= 64 ? printable : printable[..64] + "…";
    }
}

/// <summary>One CPUID leaf of the recorded CPU model.</summary>
public sealed record CpuidLeaf(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    public static CpuidLeaf From(CpuidEntry e) => new(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx);

    /// <summary>The engine's form of this leaf.</summary>
    public CpuidEntry ToEntry() => new(Function, Index, Eax, Ebx, Ecx, Edx);

    // Loops, not LINQ's Select: each instantiation over CpuidEntry, a value type, was compiled
    // by the JIT at every recording's and replay's start.

    /// <summary>The leaves of <paramref name="model"/>, as a header records them.</summary>
    public static CpuidLeaf[] AllFrom(IReadOnlyList<CpuidEntry> model)
    {
        var leaves = new CpuidLeaf[model.Count];
        for (int i = 0; i < leaves.Length; i++) leaves[i] = From(model[i]);
        return leaves;
    }

    /// <summary>The engine's form of the leaves <paramref name="leaves"/>.</summary>
    public static CpuidEntry[] ToEntries(IReadOnlyList<CpuidLeaf> leaves)
    {
        var entries = new CpuidEntry[leaves.Count];
        for (int i = 0; i < entries.Length; i++) entries[i] = leaves[i].ToEntry();
        return entries;
    }
}
