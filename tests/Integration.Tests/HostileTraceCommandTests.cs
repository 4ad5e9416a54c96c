using System.Text.Json;
using VmReplay.Fuzz;
using VmReplay.Recorder.Format;

namespace VmReplay.Integration.Tests;

/// <summary>
/// The traces issue 11 found mishandled, made (as tests/Fuzz/Corpus/trace holds them) from a
/// recording of hello made here, so that the rest of it replays with this build, and given to
/// info, info --json, diff and replay: one line naming the file, the chunk and what is wrong,
/// and exit status 3; or, for a damaged index, a rescan that says why. In the expected lines,
/// {EVNT} and {SNAP} stand for the first event chunk and the last snapshot chunk ("chunk 3
/// (EVNT) at offset 13232"), {HEAD} for the header's payload length.
/// </summary>
public sealed class HostileTraceCommandTests(HostileTraceCommandTests.FreshHello hello) : IClassFixture<HostileTraceCommandTests.FreshHello>
{
    /// <summary>A recording of hello on the software CPU with this build, with a snapshot every 20 exits.</summary>
    public sealed class FreshHello : IDisposable
    {
        public FreshHello()
        {
            Path = System.IO.Path.Combine(Dir, "hello.vmtrace");
            var r = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", Path, "--serial-in", "/dev/null", "--snapshot-every", "20"], cpu: "soft");
            if (r.ExitCode != 1) throw new InvalidOperationException($"recording hello failed: {r.Stderr}");
            Bytes = File.ReadAllBytes(Path);
        }

        public string Dir { get; } = Directory.CreateTempSubdirectory("vmreplay-hostile-").FullName;
        public string Path { get; }
        public byte[] Bytes { get; }

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    private string Hello => hello.Path;

    private string PathOf(string name)
    {
        string path = Path.Combine(hello.Dir, name + ".vmtrace");
        if (!File.Exists(path))
            File.WriteAllBytes(path, HostileTraces.All(hello.Bytes).Concat(HostileTraces.Large(hello.Bytes)).Single(c => c.Name == name).Make());
        return path;
    }

    // The expected line with {EVNT}, {SNAP} and {HEAD} filled in from the hostile trace's chunks.
    private static string Expected(string path, string refusal)
    {
        using var reader = TraceFileReader.Open(path);
        var events = reader.Chunks.First(c => c.Type == ChunkType.Events);
        var snapshot = reader.Chunks.Last(c => c.Type == ChunkType.Snapshot);
        var head = reader.Chunks.First(c => c.Type == ChunkType.Header);
        return refusal
            .Replace("{EVNT}", $"chunk {events.Number} (EVNT) at offset {events.Offset}")
            .Replace("{SNAP}", $"chunk {snapshot.Number} (SNAP) at offset {snapshot.Offset}")
            .Replace("{HEAD}", $"{head.PayloadLength}");
    }

    private static void AssertRefused(Vmreplay.Result r, string path, string refusal, string command)
    {
        Assert.True(r.ExitCode == 3, $"{command}: exit {r.ExitCode}\n{r.Stderr}");
        Assert.Equal($"vmreplay: {path}: {Expected(path, refusal)}\n", r.Stderr);
    }

    /// <summary>Traces every command refuses: the header, or the first event batch, which all of them read.</summary>
    public static TheoryData<string, string> RefusedByEveryCommand => new()
    {
        { "head-imagesha256-null", "chunk 0 (HEAD) at offset 16 is not a valid header: ImageSha256 is null" },
        { "head-imagesha256-empty", "chunk 0 (HEAD) at offset 16 is not a valid header: ImageSha256 '' is not 64 hex digits" },
        { "head-initrdsha256-empty", "chunk 0 (HEAD) at offset 16 is not a valid header: InitrdSha256 '' is not 64 hex digits" },
        { "head-cpumodel-null", "chunk 0 (HEAD) at offset 16 is not a valid header: CpuModel is null" },
        { "head-cpumodel-null-leaf", "chunk 0 (HEAD) at offset 16 is not a valid header: CpuModel leaf 0 is null" },
        { "head-guestname-300-characters", "chunk 0 (HEAD) at offset 16 is not a valid header: GuestName is 300 characters long, more than 255" },
        { "head-virtual-clock-0-ns-per-instruction", "chunk 0 (HEAD) at offset 16 is not a valid header: NanosecondsPerInstruction 0 is outside 1..1000000" },
        { "head-guestname-20-mb", "chunk 0 (HEAD) at offset 16 declares a {HEAD}-byte header; the format allows at most 1048576 bytes" },
        { "event-exit-data-length-ffffffff", "{EVNT} does not decode: event batch ends early at byte 13: exit data of 4294967295 bytes, 16 left" },
        { "event-exit-data-length-7fffffff", "{EVNT} does not decode: event batch ends early at byte 13: exit data of 2147483647 bytes, 16 left" },
        { "event-frame-2gib-of-zeros", "{EVNT} does not decode: its zstd frame declares 2147483648 bytes, more than the 8388608 the format allows" },
        { "event-64mi-service-events", "{EVNT} does not decode: its zstd frame declares 67108864 bytes, more than the 8388608 the format allows" },
        { "event-256mi-service-events", "{EVNT} does not decode: its zstd frame declares 268435456 bytes, more than the 8388608 the format allows" },
        { "event-batch-of-16385", "{EVNT} does not decode: the batch holds more than 16384 events (event 16384 at byte 16384)" },
        { "event-repeat-without-exit", "{EVNT} does not decode: repeat at byte 0 does not follow an exit" },
        { "event-repeat-16383-times-in-a-tiny-batch", "{EVNT} does not decode: the batch holds more than 200 events, the most its payload may hold (8 per byte; event 200 at byte 13)" },
    };

    [Theory, MemberData(nameof(RefusedByEveryCommand))]
    public void InfoDiffAndReplayRefuseItInOneLineWithStatus3(string name, string refusal)
    {
        string path = PathOf(name);
        AssertRefused(Vmreplay.Run(["info", path]), path, refusal, "info");
        AssertRefused(Vmreplay.Run(["info", path, "--json"]), path, refusal, "info --json");
        AssertRefused(Vmreplay.Run(["diff", path, Hello]), path, refusal, "diff");
        AssertRefused(Vmreplay.Run(["replay", path], cpu: "soft"), path, refusal, "replay");
    }

    /// <summary>
    /// hello with its events but the last replaced by a polling run, written as repeated exits:
    /// info counts each repetition, diff names the first exit that differs from hello's, and a
    /// replay stops at it.
    /// </summary>
    [Fact]
    public void ATraceOfRepeatedExitsReadsExitByExit()
    {
        string path = PathOf("event-polling-run-repeated");
        var info = Vmreplay.Run(["info", path, "--json"]);
        Assert.True(info.ExitCode == 0 && info.Stderr == "", info.Stderr);
        using (var json = JsonDocument.Parse(info.Stdout))
            Assert.Equal(90, json.RootElement.GetProperty("events").GetInt32());
        var diff = Vmreplay.Run(["diff", Hello, path]);
        Assert.True(diff.ExitCode == 1, diff.Stdout + diff.Stderr);
        Assert.StartsWith("first difference at event 0:\n", diff.Stdout);
        Assert.Contains("B 0: exit Io in port 03fd size 1 count 1 data 60 at RIP 7c07 (instruction 0)", diff.Stdout);
        var replay = Vmreplay.Run(["replay", path], cpu: "soft");
        Assert.NotEqual(0, replay.ExitCode);
        Assert.Contains("event 0", replay.Stderr);
    }

    /// <summary>
    /// A damaged snapshot (the last, at event 87): info reads every snapshot header, diff reads
    /// none, a replay that seeks past it restores it, pages and all.
    /// </summary>
    [Theory]
    [InlineData("snapshot-600000-pages", true, "{SNAP} does not decode: snapshot header says 600000 pages, outside 0..16384 for 67108864 bytes of RAM")]
    [InlineData("snapshot-16000-pages-without-data", false, "{SNAP} does not decode: snapshot ends before its page block 0")]
    [InlineData("snapshot-300000-pages-without-data", false, "{SNAP} does not decode: snapshot ends before its page block 0")]
    public void ADamagedSnapshotIsRefusedByWhatReadsIt(string name, bool headerDamaged, string refusal)
    {
        string path = PathOf(name);
        var info = Vmreplay.Run(["info", path, "--json"]);
        if (headerDamaged) AssertRefused(info, path, refusal, "info --json");
        else Assert.True(info.ExitCode == 0 && info.Stderr == "", info.Stderr);
        var diff = Vmreplay.Run(["diff", path, path]);
        Assert.Equal((0, "identical: 90 events (virtual clock: every exit at the same instruction count)\n"), (diff.ExitCode, diff.Stdout));
        AssertRefused(Vmreplay.Run(["replay", path, "--to", "88"], cpu: "soft"), path, refusal, "replay --to 88");
    }

    /// <summary>A fault record of about 1 MB: the table shows an excerpt (laying out all of it took info 3.4 s), --json all of it.</summary>
    [Theory]
    [InlineData("fault-record-1-mb-message", "… (999703 more", 1_000_000)]
    [InlineData("fault-record-35000-lines", "… (34802 more lines; info --json shows them all)", 1)]
    public void InfoShowsAnExcerptOfALongFaultRecordAndJsonAllOfIt(string name, string cut, int messageLength)
    {
        string path = PathOf(name);
        var table = Vmreplay.Run(["info", path]);
        Assert.True(table.ExitCode == 0 && table.Stderr == "", table.Stderr);
        Assert.Contains(cut, table.Stdout);
        Assert.True(table.Stdout.Length < 64 << 10, $"{table.Stdout.Length} characters of table");
        var json = Vmreplay.Run(["info", path, "--json"]);
        Assert.Equal(0, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(messageLength, document.RootElement.GetProperty("vmmFault").GetProperty("Message").GetString()!.Length);
    }

    [Theory]
    [InlineData("index-entry-offset-minus-1", "entry 2 gives offset -1: outside the chunks, which lie in 16..{0}")]
    [InlineData("index-entry-offset-7fffffffffffffff", "entry 2 gives offset 9223372036854775807: outside the chunks, which lie in 16..{0}")]
    [InlineData("index-payload-0-bytes", "the INDX payload is 0 bytes, too short for its entry count")]
    [InlineData("index-payload-3-bytes", "the INDX payload is 3 bytes, too short for its entry count")]
    public void ADamagedIndexIsRescannedAndTheTraceStillReadsAndReplays(string name, string damage)
    {
        string path = PathOf(name);
        var bytes = File.ReadAllBytes(path);
        long index = BitConverter.ToInt64(bytes, bytes.Length - 8);
        string reason = $"the index is damaged ({string.Format(damage, index)}), so the chunks were found by a scan: read 11 complete chunks up to the index at offset {index}";

        var info = Vmreplay.Run(["info", path, "--json"]);
        Assert.True(info.ExitCode == 0 && info.Stderr == "", info.Stderr);
        using (var json = JsonDocument.Parse(info.Stdout))
        {
            Assert.False(json.RootElement.GetProperty("complete").GetBoolean());
            Assert.Equal(reason, json.RootElement.GetProperty("incompleteReason").GetString());
            Assert.Equal(90, json.RootElement.GetProperty("events").GetInt32());
        }
        var table = Vmreplay.Run(["info", path]);
        Assert.Equal(0, table.ExitCode);
        Assert.Matches(@"│ complete +│ no: the index is damaged \(", table.Stdout);

        var diff = Vmreplay.Run(["diff", path, Hello]);
        Assert.Equal((0, "identical: 90 events (virtual clock: every exit at the same instruction count)\n"), (diff.ExitCode, diff.Stdout));

        var replay = Vmreplay.Run(["replay", path], cpu: "soft");
        Assert.True(replay.ExitCode == 1, replay.Stderr);
        Assert.Equal("Hello from vmreplay guest!\n", replay.Stdout);
        Assert.StartsWith($"vmreplay: {path} is incomplete ({reason}); replaying up to its last complete chunk\n", replay.Stderr);
        Assert.Contains("vmreplay: replay matched 90 events", replay.Stderr);
    }
}
