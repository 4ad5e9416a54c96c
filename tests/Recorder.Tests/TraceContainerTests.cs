using System.Text;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder.Tests;

public sealed class TraceContainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static readonly byte[][] Payloads =
    [
        Encoding.UTF8.GetBytes("{\"header\":1}"),
        Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray(),
        [],
        Encoding.UTF8.GetBytes("end"),
    ];

    private static readonly ChunkType[] Types = [ChunkType.Header, ChunkType.Events, ChunkType.Snapshot, ChunkType.End];

    private string WriteTrace(string name, bool finish)
    {
        string path = PathOf(name);
        using var w = new ChunkWriter(File.Create(path));
        for (int i = 0; i < Payloads.Length; i++) w.Write(Types[i], Payloads[i], firstEvent: (ulong)i * 100);
        if (finish) w.Finish();
        return path;
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(Crc32C.Compute("hello, world"u8), Crc32C.Compute("hello, "u8, "world"u8));
        var big = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7 + (i >> 9))).ToArray();
        Assert.Equal(Crc32C.Compute(big), Crc32C.Compute(big.AsSpan(0, 333), big.AsSpan(333)));
        var pieces = Crc32C.Start();
        for (int at = 0; at < big.Length; at += 4096) pieces.Append(big.AsSpan(at, Math.Min(4096, big.Length - at)));
        Assert.Equal(Crc32C.Compute(big), pieces.GetCurrentHashAsUInt32());
    }

    [Fact]
    public void FinishedTraceIsReadThroughItsIndex()
    {
        using var r = TraceFileReader.Open(WriteTrace("a.vmtrace", finish: true));
        Assert.True(r.IsComplete);
        Assert.Null(r.IncompleteReason);
        Assert.Equal(Types, r.Chunks.Select(c => c.Type));
        Assert.Equal([0UL, 100, 200, 300], r.Chunks.Select(c => c.FirstEvent));
        for (int i = 0; i < Payloads.Length; i++) Assert.Equal(Payloads[i], r.ReadPayload(r.Chunks[i]));
    }

    [Fact]
    public void UnfinishedTraceIsRebuiltByScanningAndSaysSo()
    {
        using var r = TraceFileReader.Open(WriteTrace("b.vmtrace", finish: false));
        Assert.False(r.IsComplete);
        Assert.Contains("did not finish", r.IncompleteReason);
        Assert.Equal(Types, r.Chunks.Select(c => c.Type));
        Assert.Equal(Payloads[1], r.ReadPayload(r.Chunks[1]));
    }

    [Fact]
    public void EveryTruncationReadsUpToTheLastCompleteChunk()
    {
        var full = File.ReadAllBytes(WriteTrace("c.vmtrace", finish: true));
        using var whole = TraceFileReader.Open(PathOf("c.vmtrace"));
        var ends = whole.Chunks.Select(c => c.End).ToArray();
        for (int cut = TraceFormat.FileHeaderSize; cut < full.Length; cut += 7)
        {
            string path = PathOf("cut.vmtrace");
            File.WriteAllBytes(path, full.AsSpan(0, cut).ToArray());
            using var r = TraceFileReader.Open(path);
            int expected = ends.Count(e => e <= cut);
            Assert.False(r.IsComplete);
            Assert.Equal(expected, r.Chunks.Count);
            Assert.NotNull(r.IncompleteReason);
            foreach (var c in r.Chunks) r.ReadPayload(c);
        }
    }

    [Fact]
    public void ABitFlipIsReportedWithChunkAndOffset()
    {
        string path = WriteTrace("d.vmtrace", finish: true);
        long offset;
        using (var r = TraceFileReader.Open(path)) offset = r.Chunks[1].Offset;
        var bytes = File.ReadAllBytes(path);
        bytes[offset + 8 + 1000] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        using var reader = TraceFileReader.Open(path);
        var e = Assert.Throws<TraceFormatException>(() => reader.ReadPayload(reader.Chunks[1]));
        Assert.Contains($"chunk 1 (EVNT) at offset {offset} is corrupt", e.Message);
        Assert.Equal(Payloads[0], reader.ReadPayload(reader.Chunks[0]));
    }

    [Fact]
    public void ABitFlipInAnUnfinishedTraceStopsTheScanWithTheChunkNamed()
    {
        string path = WriteTrace("e.vmtrace", finish: false);
        var bytes = File.ReadAllBytes(path);
        bytes[TraceFormat.FileHeaderSize + 8 + 2] ^= 1; // inside chunk 0's payload
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(path));
        Assert.Contains("chunk 0 (HEAD) at offset 16 is corrupt", e.Message);
    }

    [Fact]
    public void ADamagedIndexFallsBackToAScan()
    {
        string path = WriteTrace("f.vmtrace", finish: true);
        var bytes = File.ReadAllBytes(path);
        bytes[^20] ^= 0xFF; // inside the index chunk
        File.WriteAllBytes(path, bytes);
        using var r = TraceFileReader.Open(path);
        Assert.False(r.IsComplete);
        Assert.Equal(4, r.Chunks.Count);
    }

    [Fact]
    public void UnknownVersionIsRejectedByNumber()
    {
        string path = WriteTrace("g.vmtrace", finish: true);
        var bytes = File.ReadAllBytes(path);
        bytes[8] = 8;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(path));
        Assert.Contains("version 8 is not supported (this vmreplay reads versions 1, 2, 3, 4, 5, 6 and 7)", e.Message);
    }

    [Fact]
    public void EmptyMissingAndForeignFilesAreRejected()
    {
        File.WriteAllBytes(PathOf("empty"), []);
        Assert.Contains("empty file", Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(PathOf("empty"))).Message);
        File.WriteAllText(PathOf("text"), "just some text that is long enough");
        Assert.Contains("not a vmreplay trace", Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(PathOf("text"))).Message);
        File.WriteAllBytes(PathOf("short"), "VMR"u8.ToArray());
        Assert.Contains("not a vmreplay trace", Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(PathOf("short"))).Message);
        Assert.Contains("no such trace file", Assert.Throws<TraceFormatException>(() => TraceFileReader.Open(PathOf("missing"))).Message);
    }

    [Fact]
    public void ImpossibleChunkLengthStopsTheScan()
    {
        string path = WriteTrace("h.vmtrace", finish: false);
        var bytes = File.ReadAllBytes(path);
        long second;
        using (var r = TraceFileReader.Open(path)) second = r.Chunks[1].Offset;
        bytes[second + 7] = 0xFF; // length high byte
        File.WriteAllBytes(path, bytes);
        using var reader = TraceFileReader.Open(path);
        Assert.Single(reader.Chunks);
        Assert.Contains("impossible length", reader.IncompleteReason);
    }

    [Fact]
    public void ChunkTypesPrintAsText()
    {
        Assert.Equal("EVNT", ChunkType.Events.ToString());
        Assert.Equal("0x00000001", new ChunkType(1).ToString());
    }
}
