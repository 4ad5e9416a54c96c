using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;
using ZstdSharp;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// Packed guest images kept between recordings: a recording that finds its image writes the same
/// trace without packing it; an entry that is damaged, misnamed or unreadable is never used, and
/// a cache that cannot be written costs nothing but the packing.
/// </summary>
public sealed class EmbeddedFileCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-cache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CacheDir => Path.Combine(_dir, "cache");

    private static byte[] Image(int size, int seed) =>
        Enumerable.Range(0, size).Select(i => (byte)(i % 97 == 0 ? i * seed : i % 13)).ToArray();

    private static byte[] Unpack(ReadOnlyMemory<byte> frame)
    {
        using var d = new Decompressor();
        return d.Unwrap(frame.Span).ToArray();
    }

    private string EntryOf(byte[] file) => Path.Combine(CacheDir, EmbeddedFile.Sha256(file) + ".zst");

    [Fact]
    public void ASecondRecordingOfTheSameImageWritesAnIdenticalTraceFromTheCache()
    {
        var image = Image(300_000, 3);
        var cache = new EmbeddedFileCache(CacheDir);
        string Record(string name, EmbeddedFileCache? with)
        {
            string path = Path.Combine(_dir, name);
            using var writer = new TraceWriter(path, TestHeaders.For(image), image, cache: with);
            writer.Append(new ClockEvent(1000));
            Assert.Null(writer.Finish(new EndEvent(RunOutcomeKind.PowerOff, 0, "done", 1, 2), endsInLongMode: false));
            return path;
        }
        string uncached = Record("plain.vmtrace", null);
        string first = Record("first.vmtrace", cache);
        Assert.True(File.Exists(EntryOf(image)));
        // A frame that decodes to the same image but is not what packing makes: a recording that
        // writes it took it from the cache.
        var other = new Compressor(19).Wrap(image).ToArray();
        Assert.NotEqual(EmbeddedFile.Pack(image).ToArray(), other);
        ReplaceFrame(EntryOf(image), other);
        string second = Record("second.vmtrace", cache);

        Assert.Equal(File.ReadAllBytes(uncached), File.ReadAllBytes(first));
        Assert.True(File.ReadAllBytes(second).AsSpan().IndexOf(other) > 0, "the second trace holds the cached frame");
        using var reader = TraceReader.Open(second);
        Assert.Equal(image, reader.Image);
    }

    [Fact]
    public void ADamagedEntryIsPackedAgainAndReplaced()
    {
        var image = Image(200_000, 5);
        var cache = new EmbeddedFileCache(CacheDir);
        var packed = cache.Pack(image, EmbeddedFile.Sha256(image)).ToArray();
        var entry = File.ReadAllBytes(EntryOf(image));
        entry[^10] ^= 0x20;
        File.WriteAllBytes(EntryOf(image), entry);

        Assert.Equal(packed, cache.Pack(image, EmbeddedFile.Sha256(image)).ToArray());
        Assert.Equal(image, Unpack(cache.Pack(image, EmbeddedFile.Sha256(image))));
        Assert.NotEqual(entry, File.ReadAllBytes(EntryOf(image)));
    }

    [Fact]
    public void AnEntryUnderAnotherFilesNameIsNotUsed()
    {
        // Same size, different bytes: only the file's hash inside the entry tells them apart.
        var a = Image(100_000, 7);
        var b = Image(100_000, 11);
        var cache = new EmbeddedFileCache(CacheDir);
        cache.Pack(a, EmbeddedFile.Sha256(a));
        File.Copy(EntryOf(a), EntryOf(b));
        Assert.Equal(b, Unpack(cache.Pack(b, EmbeddedFile.Sha256(b))));
    }

    [Fact]
    public void ACacheThatCannotBeWrittenStillPacks()
    {
        string blocker = Path.Combine(_dir, "a-file");
        File.WriteAllText(blocker, "not a directory");
        var cache = new EmbeddedFileCache(Path.Combine(blocker, "cache"));
        var image = Image(50_000, 13);
        Assert.Equal(image, Unpack(cache.Pack(image, EmbeddedFile.Sha256(image))));
    }

    [Fact]
    public void TheEntriesUsedLongestAgoGoWhenTheCacheIsFull()
    {
        var files = Enumerable.Range(0, 3).Select(i => Image(400_000, 17 + i)).ToArray();
        var probe = new EmbeddedFileCache(Path.Combine(_dir, "probe"));
        probe.Pack(files[0], EmbeddedFile.Sha256(files[0]));
        long entrySize = new FileInfo(Path.Combine(probe.Directory, EmbeddedFile.Sha256(files[0]) + ".zst")).Length;
        // Room for two entries of about this size.
        var cache = new EmbeddedFileCache(CacheDir, maxBytes: entrySize * 5 / 2);
        cache.Pack(files[0], EmbeddedFile.Sha256(files[0]));
        File.SetLastWriteTimeUtc(EntryOf(files[0]), DateTime.UtcNow.AddMinutes(-10));
        cache.Pack(files[1], EmbeddedFile.Sha256(files[1]));
        File.SetLastWriteTimeUtc(EntryOf(files[1]), DateTime.UtcNow.AddMinutes(-5));
        // Using the oldest makes it the newest.
        cache.Pack(files[0], EmbeddedFile.Sha256(files[0]));
        cache.Pack(files[2], EmbeddedFile.Sha256(files[2]));
        Assert.True(File.Exists(EntryOf(files[0])));
        Assert.False(File.Exists(EntryOf(files[1])));
        Assert.True(File.Exists(EntryOf(files[2])));
    }

    [Fact]
    public void AHeaderWhoseHashIsNotTheImagesStopsTheRecording()
    {
        var image = Image(10_000, 19);
        string path = Path.Combine(_dir, "wrong.vmtrace");
        using var writer = new TraceWriter(path, TestHeaders.For(image) with { ImageSha256 = new string('a', 64) }, image);
        string? failure = writer.Finish(new EndEvent(RunOutcomeKind.PowerOff, 0, "done", 1, 2), endsInLongMode: false);
        Assert.Equal($"{path}: the header gives the image's SHA-256 as {new string('a', 64)}, not {EmbeddedFile.Sha256(image)}", failure);
    }

    private static void ReplaceFrame(string entry, byte[] frame)
    {
        var bytes = File.ReadAllBytes(entry);
        var header = bytes.AsSpan(0, 48).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Format.Crc32C.Compute(frame));
        File.WriteAllBytes(entry, [.. header, .. frame]);
    }
}
