namespace VmReplay.Fuzz.Tests;

/// <summary>
/// Each trace issue 11 found mishandled, read by everything info, diff and replay run: the exact
/// one-line refusal (or, for a damaged index, the rescan), and its cost in memory. The command
/// line's exit status for each is in Integration.Tests (HostileTraceCommandTests).
/// </summary>
public sealed class HostileTraceTests(ITestOutputHelper output)
{
    private const string File = "input.vmtrace";

    /// <summary>What the reader says of each hostile trace: its refusal, or null where a damaged index was rescanned and the trace reads (or, for the polling run, the trace is valid).</summary>
    public static TheoryData<string, string?> Expected => new()
    {
        { "head-imagesha256-null", "chunk 0 (HEAD) at offset 16 is not a valid header: ImageSha256 is null" },
        { "head-imagesha256-empty", "chunk 0 (HEAD) at offset 16 is not a valid header: ImageSha256 '' is not 64 hex digits" },
        { "head-initrdsha256-empty", "chunk 0 (HEAD) at offset 16 is not a valid header: InitrdSha256 '' is not 64 hex digits" },
        { "head-cpumodel-null", "chunk 0 (HEAD) at offset 16 is not a valid header: CpuModel is null" },
        { "head-cpumodel-null-leaf", "chunk 0 (HEAD) at offset 16 is not a valid header: CpuModel leaf 0 is null" },
        { "head-guestname-300-characters", "chunk 0 (HEAD) at offset 16 is not a valid header: GuestName is 300 characters long, more than 255" },
        { "head-virtual-clock-0-ns-per-instruction", "chunk 0 (HEAD) at offset 16 is not a valid header: NanosecondsPerInstruction 0 is outside 1..1000000" },
        { "head-guestname-20-mb", "chunk 0 (HEAD) at offset 16 declares a 20973015-byte header; the format allows at most 1048576 bytes" },
        { "index-entry-offset-minus-1", null },
        { "index-entry-offset-7fffffffffffffff", null },
        { "index-payload-0-bytes", null },
        { "index-payload-3-bytes", null },
        { "event-exit-data-length-ffffffff", "chunk 3 (EVNT) at offset 13232 does not decode: event batch ends early at byte 13: exit data of 4294967295 bytes, 16 left" },
        { "event-exit-data-length-7fffffff", "chunk 3 (EVNT) at offset 13232 does not decode: event batch ends early at byte 13: exit data of 2147483647 bytes, 16 left" },
        { "event-frame-2gib-of-zeros", "chunk 3 (EVNT) at offset 13232 does not decode: its zstd frame declares 2147483648 bytes, more than the 8388608 the format allows" },
        { "event-64mi-service-events", "chunk 3 (EVNT) at offset 13232 does not decode: its zstd frame declares 67108864 bytes, more than the 8388608 the format allows" },
        { "event-256mi-service-events", "chunk 3 (EVNT) at offset 13232 does not decode: its zstd frame declares 268435456 bytes, more than the 8388608 the format allows" },
        { "event-batch-of-16385", "chunk 3 (EVNT) at offset 13232 does not decode: the batch holds more than 16384 events (event 16384 at byte 16384)" },
        { "event-repeat-without-exit", "chunk 3 (EVNT) at offset 13232 does not decode: repeat at byte 0 does not follow an exit" },
        { "event-repeat-16383-times-in-a-tiny-batch", "chunk 3 (EVNT) at offset 13232 does not decode: the batch holds more than 200 events, the most its payload may hold (8 per byte; event 200 at byte 13)" },
        { "event-polling-run-repeated", null },
        { "snapshot-600000-pages", "chunk 8 (SNAP) at offset 30443 does not decode: snapshot header says 600000 pages, outside 0..16384 for 67108864 bytes of RAM" },
        { "snapshot-16000-pages-without-data", "chunk 8 (SNAP) at offset 30443 does not decode: snapshot ends before its page block 0" },
        { "snapshot-300000-pages-without-data", "chunk 8 (SNAP) at offset 29407 does not decode: snapshot ends before its page block 0" },
    };

    [Theory, MemberData(nameof(Expected))]
    public void IsRefusedInOneLineOrRescanned(string name, string? refusal)
    {
        var bytes = Make(name);
        long before = GC.GetAllocatedBytesForCurrentThread();
        string? outcome = TraceTarget.Run(bytes);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{name}: {bytes.Length} bytes, {allocated / 1048576.0:0.0} MiB allocated reading it");
        Assert.Equal(refusal is null ? null : $"{File}: {refusal}", outcome);
        // Reading a refused trace costs a few times its size, never what it declares.
        Assert.True(allocated < 64L << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void EveryHostileTraceUnder1MBIsInTheCorpusAsMade()
    {
        var corpus = Corpus.Load("trace").ToDictionary(c => c.Name, c => c.Bytes);
        foreach (var (name, make) in HostileTraces.All(Corpus.HelloV2))
            Assert.Equal(make(), corpus[name + ".vmtrace"]);
        Assert.All(corpus.Values, bytes => Assert.True(bytes.Length < 1 << 20));
    }

    [Fact]
    public void ADamagedIndexIsRescannedAndSaysWhy()
    {
        using var reader = Recorder.TraceReader.Open(new MemoryStream(Make("index-entry-offset-minus-1")), File);
        Assert.False(reader.File.IsComplete);
        long index = reader.File.Chunks[^1].End;
        Assert.Equal(
            $"the index is damaged (entry 2 gives offset -1: outside the chunks, which lie in 16..{index}), so the chunks were found by a scan: read 11 complete chunks up to the index at offset {index}",
            reader.File.IncompleteReason);
        Assert.Equal(90, Recorder.TraceSummary.Of(reader).Events);
    }

    private static byte[] Make(string name) =>
        HostileTraces.All(Corpus.HelloV2).Concat(HostileTraces.Large(Corpus.HelloV2)).Single(c => c.Name == name).Make();
}
