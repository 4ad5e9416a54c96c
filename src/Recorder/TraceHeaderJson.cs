using System.Text.Json;

namespace VmReplay.Recorder;

/// <summary>
/// Writes the HEAD payload with <see cref="Utf8JsonWriter"/>, member by member, exactly as
/// <see cref="JsonSerializer"/> writes a <see cref="TraceHeader"/> with indentation (the reader
/// uses it, and a test holds the two to the same bytes). The serializer, reflection-based or
/// source-generated, first compiles its generic code for the header's types: 30 to 45 ms of
/// every recording's start, before the guest's first instruction.
/// </summary>
internal static class TraceHeaderJson
{
    public static byte[] Write(TraceHeader h)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(16 << 10);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
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
            w.WriteStartArray(nameof(h.CpuModel));
            foreach (var leaf in h.CpuModel)
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
            w.WriteString(nameof(h.Recorder), h.Recorder);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
