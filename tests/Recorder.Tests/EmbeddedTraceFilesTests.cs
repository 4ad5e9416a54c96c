using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using System.Text;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using ZstdSharp;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// The guest image and initrd a trace carries (format version 2 on: IMGZ and INRD, zstd frames
/// checked against the header), and version 1 traces, which stored the image raw, still read.
/// </summary>
public sealed class EmbeddedTraceFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-embedded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    // Compressible like a kernel: repeated structure with some variation.
    private static byte[] SampleImage(int size, int seed) =>
        Enumerable.Range(0, size).Select(i => (byte)(i % 251 == 0 ? i * seed : i % 16)).ToArray();

    private static TraceHeader Header(byte[] image, byte[]? initrd) => TestHeaders.For(image, initrd);

    private string Write(string name, byte[] image, byte[]? initrd)
    {
        string path = PathOf(name);
        using var writer = new TraceWriter(path, Header(image, initrd), image, initrd);
        writer.Append(new ClockEvent(1000));
        Assert.Null(writer.Finish(new EndEvent(RunOutcomeKind.PowerOff, 0, "done", 1, 2), endsInLongMode: false));
        return path;
    }

    [Fact]
    public void ATraceHoldsTheImageCompressedAndNoInitrdWhenThereIsNone()
    {
        var image = SampleImage(1 << 20, 7);
        using var trace = TraceReader.Open(Write("plain.vmtrace", image, null));
        Assert.Equal(TraceFormat.Version, trace.Version);
        Assert.Equal([ChunkType.Header, ChunkType.CompressedImage], trace.File.Chunks.Take(2).Select(c => c.Type));
        Assert.DoesNotContain(trace.File.Chunks, c => c.Type == ChunkType.Image || c.Type == ChunkType.Initrd);
        Assert.True(trace.ImageChunk.PayloadLength < image.Length / 4, $"IMGZ holds {trace.ImageChunk.PayloadLength} bytes for a {image.Length}-byte image");
        Assert.Equal(image, trace.Image);
        Assert.Null(trace.Initrd);
        Assert.Null(trace.InitrdChunk);
        Assert.False(trace.Header.HasInitrd);
        // Without an initrd the header says nothing about one.
        Assert.DoesNotContain("Initrd", Encoding.UTF8.GetString(trace.File.ReadPayload(trace.File.Chunks[0])));
        Assert.Single(trace.Events(), e => e is EndEvent);
    }

    [Fact]
    public void ATraceRoundTripsItsInitrdAfterTheImage()
    {
        var image = SampleImage(300_000, 3);
        var initrd = SampleImage(70_000, 11);
        using var trace = TraceReader.Open(Write("initrd.vmtrace", image, initrd));
        Assert.Equal([ChunkType.Header, ChunkType.CompressedImage, ChunkType.Initrd], trace.File.Chunks.Take(3).Select(c => c.Type));
        Assert.Equal(image, trace.Image);
        Assert.Equal(initrd, trace.Initrd);
        var h = trace.Header;
        Assert.Equal("initrd.cpio", h.InitrdName);
        Assert.Equal(initrd.Length, h.InitrdSize);
        Assert.Equal(EmbeddedFile.Sha256(initrd), h.InitrdSha256);
        Assert.True(trace.InitrdChunk!.Value.PayloadLength < initrd.Length / 4);
    }

    [Fact]
    public void AVersion1TraceFromTheOldRecorderIsStillRead()
    {
        // Recorded by vmreplay before version 2 (hello.elf, 4 snapshots): the image stored raw in IMAG.
        using var trace = TraceReader.Open(Fixture("hello-v1.vmtrace"));
        Assert.Equal(1u, trace.Version);
        Assert.True(trace.File.IsComplete);
        Assert.Equal(ChunkType.Image, trace.ImageChunk.Type);
        Assert.Equal("hello.elf", trace.Header.GuestName);
        Assert.False(trace.Header.HasInitrd);
        Assert.Null(trace.Initrd);
        Assert.Equal(trace.Header.ImageSize, trace.Image.Length);
        Assert.Equal(trace.Header.ImageSha256, EmbeddedFile.Sha256(trace.Image));
        Assert.Equal(90, trace.Events().Count());
        Assert.Equal(4, trace.Snapshots.Count);
        Assert.IsType<EndEvent>(trace.Events().Last());
    }

    [Fact]
    public void AnImageFrameThatDecodesToOtherBytesIsNamedByItsChunk()
    {
        var image = SampleImage(200_000, 5);
        string path = Write("good.vmtrace", image, null);
        var other = (byte[])image.Clone();
        other[12345] ^= 1;
        string bad = Rewrite(path, "other.vmtrace", ChunkType.CompressedImage, _ => new Compressor(3).Wrap(other).ToArray());
        using var trace = TraceReader.Open(bad);
        var e = Assert.Throws<TraceFormatException>(() => trace.Image);
        Assert.Contains($"{bad}: chunk 1 (IMGZ) at offset {trace.ImageChunk.Offset} does not hold the recorded guest image: SHA-256 {EmbeddedFile.Sha256(other)}, the header says {EmbeddedFile.Sha256(image)}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The rest of the trace stays readable: info needs no image.
        Assert.Equal(2, trace.Events().Count());
    }

    [Fact]
    public void AnImageFrameThatDoesNotDecodeIsNamedByItsChunk()
    {
        var image = SampleImage(200_000, 5);
        string path = Write("good.vmtrace", image, null);
        // A valid CRC over a damaged frame: what a writer bug, not the disk, would leave.
        string bad = Rewrite(path, "garbled.vmtrace", ChunkType.CompressedImage, frame =>
        {
            for (int i = frame.Length / 2; i < frame.Length / 2 + 64; i++) frame[i] ^= 0x5A;
            return frame;
        });
        using var trace = TraceReader.Open(bad);
        var e = Assert.Throws<TraceFormatException>(() => trace.Image);
        Assert.Contains("chunk 1 (IMGZ) at offset", e.Message);
        Assert.Contains("does not hold the recorded guest image", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        string cut = Rewrite(path, "short.vmtrace", ChunkType.CompressedImage, frame => frame[..^10]);
        using var shortTrace = TraceReader.Open(cut);
        Assert.Contains("chunk 1 (IMGZ)", Assert.Throws<TraceFormatException>(() => shortTrace.Image).Message);
    }

    [Fact]
    public void ABitFlipInTheImageChunkIsCaughtByItsCrc()
    {
        string path = Write("flip.vmtrace", SampleImage(100_000, 9), null);
        ChunkInfo chunk;
        using (var r = TraceReader.Open(path)) chunk = r.ImageChunk;
        long offset = chunk.Offset;
        var bytes = File.ReadAllBytes(path);
        bytes[offset + TraceFormat.ChunkHeaderSize + chunk.PayloadLength / 2] ^= 0x04;
        File.WriteAllBytes(path, bytes);
        using var trace = TraceReader.Open(path);
        Assert.Contains($"chunk 1 (IMGZ) at offset {offset} is corrupt", Assert.Throws<TraceFormatException>(() => trace.Image).Message);
    }

    [Fact]
    public void AnInitrdThatDoesNotMatchItsHeaderIsNamed()
    {
        var initrd = SampleImage(50_000, 2);
        string path = Write("i.vmtrace", SampleImage(10_000, 1), initrd);
        string bad = Rewrite(path, "i-bad.vmtrace", ChunkType.Initrd, _ => new Compressor(3).Wrap(initrd.AsSpan(1)).ToArray());
        using var trace = TraceReader.Open(bad);
        var e = Assert.Throws<TraceFormatException>(() => trace.Initrd);
        Assert.Contains($"chunk 2 (INRD) at offset {trace.InitrdChunk!.Value.Offset} does not hold the recorded initrd: the frame holds {initrd.Length - 1} bytes, the header says {initrd.Length}", e.Message);
    }

    [Fact]
    public void AHeaderNamingAnInitrdTheTraceLacksIsRefusedAtOpen()
    {
        string path = Write("i.vmtrace", SampleImage(10_000, 1), SampleImage(5_000, 2));
        string bad = Rewrite(path, "no-inrd.vmtrace", ChunkType.Initrd, null);
        var e = Assert.Throws<TraceFormatException>(() => TraceReader.Open(bad));
        Assert.Contains("the header names the initrd initrd.cpio but the trace has no INRD chunk", e.Message);
    }

    [Fact]
    public void ATraceWithoutItsImageChunkIsRefusedNamingIt()
    {
        string path = Write("p.vmtrace", SampleImage(10_000, 1), null);
        string bad = Rewrite(path, "no-imgz.vmtrace", ChunkType.CompressedImage, null);
        var e = Assert.Throws<TraceFormatException>(() => TraceReader.Open(bad));
        Assert.Contains($"no header or guest image chunk (HEAD, IMGZ; format version {TraceFormat.Version})", e.Message);
    }

    [Fact]
    public void EveryFileUpToTheLimitFitsOneChunkAndALargerOneIsRefusedBeforeTheTraceExists()
    {
        // The limit is chosen so that zstd's worst case still fits a chunk's payload.
        Assert.True((uint)Compressor.GetCompressBound(EmbeddedFile.MaxSize) <= TraceFormat.MaxPayload);
        Assert.Null(EmbeddedFile.CheckSize("initrd", "x", EmbeddedFile.MaxSize));
        Assert.Equal("big.cpio: the initrd is 267386881 bytes; a trace embeds files of at most 267386880 bytes (255 MiB)",
            EmbeddedFile.CheckSize("initrd", "big.cpio", EmbeddedFile.MaxSize + 1L));

        var image = SampleImage(1000, 1);
        var huge = new byte[EmbeddedFile.MaxSize + 1];
        string path = PathOf("huge.vmtrace");
        var header = Header(image, null) with { InitrdName = "big.cpio", InitrdSha256 = "00", InitrdSize = huge.Length };
        var e = Assert.Throws<ArgumentException>(() => new TraceWriter(path, header, image, huge));
        Assert.StartsWith("big.cpio: the initrd is", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void TheWriterRefusesAHeaderThatDoesNotDescribeItsFiles()
    {
        var image = SampleImage(1000, 1);
        Assert.Throws<ArgumentException>(() => new TraceWriter(PathOf("a.vmtrace"), Header(image, null), image, new byte[] { 1, 2, 3 }));
        Assert.Throws<ArgumentException>(() => new TraceWriter(PathOf("b.vmtrace"), Header(image, [1, 2, 3]), image));
        Assert.Throws<ArgumentException>(() => new TraceWriter(PathOf("c.vmtrace"), Header(image, null), image.AsMemory(1)));
    }

    /// <summary>Copies a trace with the first chunk of <paramref name="type"/> replaced (valid CRC) or, for a null <paramref name="change"/>, left out.</summary>
    private string Rewrite(string from, string name, ChunkType type, Func<byte[], byte[]>? change)
    {
        string to = PathOf(name);
        using var reader = TraceFileReader.Open(from);
        using var writer = new ChunkWriter(File.Create(to));
        foreach (var chunk in reader.Chunks.Where(c => c.Type != ChunkType.Index))
        {
            var payload = reader.ReadPayload(chunk);
            if (chunk.Type == type)
            {
                if (change is null) continue;
                payload = change(payload);
            }
            writer.Write(chunk.Type, payload, chunk.FirstEvent);
        }
        writer.Finish();
        return to;
    }

    private static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Recorder.Tests", "Fixtures", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"test fixture {name} not found above {AppContext.BaseDirectory}");
    }
}
