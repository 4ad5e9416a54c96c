using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Cli.Commands;

/// <summary><c>vmreplay info</c>: what a trace holds, how big it is, and whether it is complete.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("trace") { Description = "trace file (.vmtrace)" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var command = new Command("info", "show a trace's header, event counts, sizes and completeness");
        command.Arguments.Add(file);
        command.Options.Add(json);
        command.SetAction(r => Program.Guarded(() => Info(r.GetValue(file)!, r.GetValue(json))));
        return command;
    }

    private static int Info(string path, bool asJson)
    {
        using var trace = TraceReader.Open(path);
        var sum = TraceSummary.Of(trace);
        var counts = sum.EventsByKind;
        var end = sum.End;
        long events = sum.Events, lastClock = sum.LastClockNanoseconds;
        long compressed = sum.EventChunkBytes;
        long snapshotBytes = sum.SnapshotBytes;
        long snapshotPageBytes = sum.SnapshotPageBytes;
        var fault = sum.Fault;
        var h = trace.Header;
        // A JSON object built member by member, not an anonymous type given to the serializer:
        // the native build has no reflection to serialize one with.
        double snapshotCompression = snapshotBytes == 0 ? 0 : Math.Round((double)snapshotPageBytes / snapshotBytes, 2);
        double bytesPerEvent = events == 0 ? 0 : Math.Round((double)compressed / events, 3);
        var summary = new JsonObject
        {
            ["file"] = path,
            ["formatVersion"] = trace.Version,
            ["complete"] = trace.File.IsComplete,
            ["incompleteReason"] = trace.File.IncompleteReason,
            ["guest"] = h.GuestName,
            ["imageSha256"] = h.ImageSha256,
            ["initrd"] = h.HasInitrd ? new JsonObject { ["name"] = h.InitrdName, ["sha256"] = h.InitrdSha256, ["bytes"] = h.InitrdSize } : null,
            ["memoryBytes"] = h.MemorySize,
            ["vcpus"] = h.VcpuCount,
            ["cmdline"] = h.Cmdline,
            ["hostKernel"] = h.HostKernel,
            ["backend"] = h.Backend,
            ["clock"] = h.Clock,
            ["cpuidLeaves"] = h.CpuModel.Length,
            ["cpuidSeen"] = h.CpuidSeen?.Length ?? 0,
            ["msrExits"] = h.MsrExits,
            ["guestTimeSeconds"] = Math.Round(lastClock / 1e9, 6),
            ["events"] = events,
            ["eventsByKind"] = Counts(counts),
            ["snapshots"] = sum.Snapshots,
            ["fullSnapshots"] = sum.FullSnapshots,
            ["snapshotBytes"] = snapshotBytes,
            ["snapshotPageBytes"] = snapshotPageBytes,
            ["snapshotCompression"] = snapshotCompression,
            ["chunks"] = trace.File.Chunks.Count,
            ["fileBytes"] = trace.File.FileLength,
            ["imageBytes"] = h.ImageSize,
            ["imageChunkBytes"] = (long)trace.ImageChunk.PayloadLength,
            ["initrdChunkBytes"] = (long?)trace.InitrdChunk?.PayloadLength,
            ["eventChunkBytes"] = compressed,
            ["bytesPerEvent"] = bytesPerEvent,
            ["vmmFault"] = fault is null ? null : JsonNode.Parse(fault.ToJson()),
            ["outcome"] = end is null ? null : new JsonObject { ["kind"] = end.Kind.ToString(), ["exitStatus"] = end.ExitStatus, ["message"] = end.Message },
        };
        if (asJson)
        {
            Console.WriteLine(summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var t = new Table().AddColumns("", "").HideHeaders();
        t.AddRow("trace", Markup.Escape(path));
        t.AddRow("complete", trace.File.IsComplete ? "yes" : $"[yellow]no[/]: {Markup.Escape(trace.File.IncompleteReason ?? "")}");
        t.AddRow("format", $"version {trace.Version}");
        t.AddRow("guest", Markup.Escape($"{h.GuestName} (sha256 {h.ImageSha256[..16]}…, {h.ImageSize} bytes{Stored(trace.ImageChunk)})"));
        t.AddRow("initrd", !h.HasInitrd ? "none" : Markup.Escape($"{h.InitrdName} (sha256 {h.InitrdSha256}, {h.InitrdSize} bytes{Stored(trace.InitrdChunk!.Value)})"));
        t.AddRow("machine", Markup.Escape(Excerpt($"{h.MemorySize >> 20} MiB, {h.VcpuCount} vCPU, cmdline \"{h.Cmdline}\", host {h.HostKernel}")));
        t.AddRow("cpu", Markup.Escape(Cpu(h)));
        t.AddRow("guest time", $"{lastClock / 1e9:0.000} s (last engine-clock reading)");
        t.AddRow("events", $"{events}");
        foreach (var (k, n) in counts) t.AddRow("  " + Markup.Escape(k), n.ToString());
        t.AddRow("size", $"{trace.File.FileLength} bytes in {trace.File.Chunks.Count} chunks; events {compressed} bytes compressed ({bytesPerEvent} bytes/event)");
        t.AddRow("snapshots", sum.Snapshots == 0 ? "none" :
            $"{sum.Snapshots} ({sum.FullSnapshots} full), {snapshotBytes} bytes holding {snapshotPageBytes} bytes of pages (LZ4 ratio {snapshotCompression}); " +
            $"events {sum.FirstSnapshotEvent}…{sum.LastSnapshotEvent}");
        t.AddRow("outcome", end is null ? "[yellow]not recorded[/]" : Markup.Escape(end.Describe()));
        if (fault is not null) t.AddRow("[red]VMM fault[/]", Markup.Escape(Excerpt(fault.Describe().TrimEnd())));
        AnsiConsole.Write(t);
        return 0;
    }

    // The table shows at most this much of a long text (a fault record's stacks, a command
    // line); --json gives all of it. Laying out a table costs far more per character than
    // reading the trace did: a 1 MB fault record took 3.4 s.
    private const int TableLines = 200, TableLineLength = 300;

    private static string Excerpt(string text)
    {
        var lines = text.Split('\n');
        var shown = lines.Take(TableLines).Select(l => l.Length <= TableLineLength ? l : l[..TableLineLength] + $"… ({l.Length - TableLineLength} more characters)");
        string excerpt = string.Join('\n', shown);
        return lines.Length <= TableLines ? excerpt : excerpt + $"\n… ({lines.Length - TableLines} more lines; info --json shows them all)";
    }

    // The backend and clock, the CPU model, and what a replay on the other backend depends on.
    private static string Cpu(TraceHeader h)
    {
        string cpu = $"recorded on {h.Backend}, {h.Clock} clock; CPUID model of {h.CpuModel.Length} leaves";
        if (h.CpuidSeen is { Length: > 0 } seen)
            cpu += $", of which the guest read {seen.Length} otherwise (this KVM did not apply the model to {string.Join(", ", seen.Select(l => $"0x{l.Function:x}").Distinct())}; a software-CPU replay answers as the guest read)";
        cpu += h.KvmAnsweredMostMsrs
            ? "; KVM answered every MSR but the TSC family itself (recorded before 2026-12-04: a software-CPU replay diverges at the first other MSR the guest read)"
            : "; every MSR but the vCPU's own was an exit";
        return cpu;
    }

    // A version 1 image is stored raw; from version 2 the embedded files are zstd frames.
    private static string Stored(ChunkInfo chunk) =>
        chunk.Type == ChunkType.Image ? ", stored raw" : $", {chunk.PayloadLength} in the trace ({chunk.Type})";

    private static JsonObject Counts(IReadOnlyDictionary<string, long> counts)
    {
        var o = new JsonObject();
        foreach (var (kind, n) in counts) o[kind] = n;
        return o;
    }
}
