using System.Text.Json;
using VmReplay.Engine.Backend;

namespace VmReplay.Recorder;

/// <summary>
/// Writes the HEAD payload with <see cref="Utf8JsonWriter"/>, member by member, exactly as
/// <see cref="JsonSerializer"/> writes a <see cref="TraceHeader"/> with indentation, and reads
/// it back from a <see cref="JsonDocument"/> as the serializer would (tests hold both to the
/// serializer: the same bytes, the same header or the same refusal). The serializer,
/// reflection-based or source-generated, first compiles its generic code for the header's
/// types: 30 to 45 ms of every recording's start and of every replay's, before the guest's
/// first instruction.
/// </summary>
internal static class TraceHeaderJson
{
    public static byte[] Write(TraceHeader h)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(16 << 10);
        using (var w = new Utf8JsonWriter(buffer, Format.TraceJsonEncoder.WriterOptions with { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString(nameof(h.GuestName), h.GuestName);
            w.WriteString(nameof(h.ImageSha256), h.ImageSha256);
            w.WriteNumber(nameof(h.ImageSize), h.ImageSize);
            if (h.InitrdName is not null) w.WriteString(nameof(h.InitrdName), h.InitrdName);
            if (h.InitrdSha256 is not null) w.WriteString(nameof(h.InitrdSha256), h.InitrdSha256);
            if (h.InitrdSize is { } initrdSize) w.WriteNumber(nameof(h.InitrdSize), initrdSize);
            w.WriteNumber(nameof(h.MemorySize), h.MemorySize);
            w.WriteNumber(nameof(h.VcpuCount), h.VcpuCount);
            w.WriteString(nameof(h.Cmdline), h.Cmdline);
            w.WriteString(nameof(h.WallClockBase), h.WallClockBase);
            w.WriteString(nameof(h.HostKernel), h.HostKernel);
            if (h.HostCapabilities is { } c)
            {
                w.WriteStartObject(nameof(h.HostCapabilities));
                w.WriteBoolean(nameof(c.UserSpaceMsr), c.UserSpaceMsr);
                w.WriteBoolean(nameof(c.MsrFilter), c.MsrFilter);
                w.WriteBoolean(nameof(c.ReadonlyMemory), c.ReadonlyMemory);
                w.WriteBoolean(nameof(c.ImmediateExit), c.ImmediateExit);
                w.WriteBoolean(nameof(c.GuestDebug), c.GuestDebug);
                w.WriteBoolean(nameof(c.Xsave), c.Xsave);
                w.WriteBoolean(nameof(c.Xcrs), c.Xcrs);
                w.WriteBoolean(nameof(c.VcpuEvents), c.VcpuEvents);
                w.WriteBoolean(nameof(c.DebugRegs), c.DebugRegs);
                w.WriteBoolean(nameof(c.TscControl), c.TscControl);
                w.WriteNumber(nameof(c.MaxVcpus), c.MaxVcpus);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull(nameof(h.HostCapabilities));
            }
            w.WriteString(nameof(h.Backend), h.Backend);
            w.WriteString(nameof(h.Clock), h.Clock);
            if (h.NanosecondsPerInstruction is { } ns) w.WriteNumber(nameof(h.NanosecondsPerInstruction), ns);
            if (h.MaxInstructions is { } max) w.WriteNumber(nameof(h.MaxInstructions), max);
            WriteLeaves(w, nameof(h.CpuModel), h.CpuModel);
            if (h.CpuidSeen is { } seen) WriteLeaves(w, nameof(h.CpuidSeen), seen);
            if (h.MsrExits is { } msrExits) w.WriteString(nameof(h.MsrExits), msrExits);
            w.WriteString(nameof(h.Recorder), h.Recorder);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads a HEAD payload as <see cref="JsonSerializer"/> reads a <see cref="TraceHeader"/>:
    /// members matched by exact name, unknown ones skipped, the last of a repeated one kept,
    /// absent optional ones at their defaults. Throws <see cref="JsonException"/> for JSON that
    /// is not a header: malformed, a value of the wrong type, a required member missing.
    /// </summary>
    public static TraceHeader Read(ReadOnlySpan<byte> json)
    {
        // A string that is not valid UTF-8 passes the parser and fails when it is read.
        try { return ReadDocument(json); }
        catch (InvalidOperationException e) { throw new JsonException(e.Message, e); }
    }

    private static TraceHeader ReadDocument(ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray());
        var root = doc.RootElement;
        if (root.ValueKind == JsonValueKind.Null) throw new JsonException("the header is null");
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException($"the header is a JSON {root.ValueKind}, not an object");
        var m = Last(root);
        string[] required = ["GuestName", "ImageSha256", "ImageSize", "MemorySize", "VcpuCount", "Cmdline", "WallClockBase", "HostKernel", "CpuModel"];
        if (required.Where(r => !m.ContainsKey(r)).ToArray() is { Length: > 0 } missing)
            throw new JsonException($"the header lacks its required members {string.Join(", ", missing)}");
        var header = new TraceHeader
        {
            GuestName = Str(m["GuestName"])!,
            ImageSha256 = Str(m["ImageSha256"])!,
            ImageSize = Number(m["ImageSize"], "ImageSize", static (JsonElement e, out long v) => e.TryGetInt64(out v)),
            InitrdName = m.TryGetValue("InitrdName", out var initrdName) ? Str(initrdName) : null,
            InitrdSha256 = m.TryGetValue("InitrdSha256", out var initrdSha) ? Str(initrdSha) : null,
            InitrdSize = m.TryGetValue("InitrdSize", out var initrdSize) && initrdSize.ValueKind != JsonValueKind.Null
                ? Number(initrdSize, "InitrdSize", static (JsonElement e, out long v) => e.TryGetInt64(out v)) : null,
            MemorySize = Number(m["MemorySize"], "MemorySize", static (JsonElement e, out ulong v) => e.TryGetUInt64(out v)),
            VcpuCount = Number(m["VcpuCount"], "VcpuCount", static (JsonElement e, out int v) => e.TryGetInt32(out v)),
            Cmdline = Str(m["Cmdline"])!,
            WallClockBase = m["WallClockBase"] is { ValueKind: JsonValueKind.String } w && w.TryGetDateTime(out var wall) ? wall
                : throw new JsonException("WallClockBase is not a date and time"),
            HostKernel = Str(m["HostKernel"])!,
            HostCapabilities = m.TryGetValue("HostCapabilities", out var caps) ? Capabilities(caps) : null,
            NanosecondsPerInstruction = m.TryGetValue("NanosecondsPerInstruction", out var ns) && ns.ValueKind != JsonValueKind.Null
                ? Number(ns, "NanosecondsPerInstruction", static (JsonElement e, out long v) => e.TryGetInt64(out v)) : null,
            MaxInstructions = m.TryGetValue("MaxInstructions", out var max) && max.ValueKind != JsonValueKind.Null
                ? Number(max, "MaxInstructions", static (JsonElement e, out long v) => e.TryGetInt64(out v)) : null,
            CpuModel = Leaves(m["CpuModel"], "CpuModel")!,
            CpuidSeen = m.TryGetValue("CpuidSeen", out var seen) ? Leaves(seen, "CpuidSeen") : null,
            MsrExits = m.TryGetValue("MsrExits", out var msrExits) ? Str(msrExits) : null,
        };
        if (m.TryGetValue("Backend", out var backend)) header = header with { Backend = Str(backend)! };
        if (m.TryGetValue("Clock", out var clock)) header = header with { Clock = Str(clock)! };
        if (m.TryGetValue("Recorder", out var recorder)) header = header with { Recorder = Str(recorder)! };
        return header;
    }

    private delegate bool TryGet<T>(JsonElement e, out T value);

    // The serializer keeps the last of a repeated member.
    private static Dictionary<string, JsonElement> Last(JsonElement o)
    {
        var members = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in o.EnumerateObject()) members[p.Name] = p.Value;
        return members;
    }

    private static string? Str(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null => null,
        _ => throw new JsonException($"a {e.ValueKind} where the header has a string"),
    };

    private static T Number<T>(JsonElement e, string name, TryGet<T> get) =>
        e.ValueKind == JsonValueKind.Number && get(e, out var v) ? v : throw new JsonException($"{name} is not a number of its type");

    private static HostCapabilities? Capabilities(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Object) throw new JsonException("HostCapabilities is not an object");
        var m = Last(e);
        bool Flag(string name) => m.TryGetValue(name, out var f) && (f.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? f.GetBoolean() : throw new JsonException($"HostCapabilities.{name} is not a boolean"));
        return new HostCapabilities(Flag("UserSpaceMsr"), Flag("MsrFilter"), Flag("ReadonlyMemory"), Flag("ImmediateExit"), Flag("GuestDebug"),
            Flag("Xsave"), Flag("Xcrs"), Flag("VcpuEvents"), Flag("DebugRegs"), Flag("TscControl"),
            m.TryGetValue("MaxVcpus", out var max) ? Number(max, "HostCapabilities.MaxVcpus", static (JsonElement x, out int v) => x.TryGetInt32(out v)) : 0);
    }

    private static void WriteLeaves(Utf8JsonWriter w, string name, CpuidLeaf[] leaves)
    {
        w.WriteStartArray(name);
        foreach (var leaf in leaves)
        {
            w.WriteStartObject();
            w.WriteNumber(nameof(leaf.Function), leaf.Function);
            w.WriteNumber(nameof(leaf.Index), leaf.Index);
            w.WriteNumber(nameof(leaf.Eax), leaf.Eax);
            w.WriteNumber(nameof(leaf.Ebx), leaf.Ebx);
            w.WriteNumber(nameof(leaf.Ecx), leaf.Ecx);
            w.WriteNumber(nameof(leaf.Edx), leaf.Edx);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static CpuidLeaf[]? Leaves(JsonElement e, string name)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Array) throw new JsonException($"{name} is not an array");
        var leaves = new CpuidLeaf[e.GetArrayLength()];
        int i = 0;
        foreach (var leaf in e.EnumerateArray())
        {
            if (leaf.ValueKind == JsonValueKind.Null) { leaves[i++] = null!; continue; }
            if (leaf.ValueKind != JsonValueKind.Object) throw new JsonException($"a {name} leaf is not an object");
            var m = Last(leaf);
            uint Reg(string reg) => m.TryGetValue(reg, out var r) ? Number(r, $"{name}.{reg}", static (JsonElement x, out uint v) => x.TryGetUInt32(out v)) : 0;
            leaves[i++] = new CpuidLeaf(Reg("Function"), Reg("Index"), Reg("Eax"), Reg("Ebx"), Reg("Ecx"), Reg("Edx"));
        }
        return leaves;
    }
}
