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

    private static byte[] Unpack(PackedFile packed)
    {
        using var d = new Decompressor();
        return d.Unwrap(packed.Frame).ToArray();
    }

    // The frame and the SHA-256 of a packing, the entry it may hold closed again.
    private static (byte[] Frame, string Sha256) PackWith(EmbeddedFileCache cache, byte[] file)
    {
        using var packed = cache.Pack(file);
        return (packed.Frame.ToArray(), packed.Sha256);
    }

    private string EntryOf(byte[] file) => EntryIn(CacheDir, file);

    private static string EntryIn(string dir, byte[] file) => Path.Combine(dir, Convert.ToHexStringLower(System.IO.Hashing.XxHash128.Hash(file)) + ".zst");

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
        var packed = PackWith(cache, image).Frame;
        var entry = File.ReadAllBytes(EntryOf(image));
        entry[^10] ^= 0x20;
        File.WriteAllBytes(EntryOf(image), entry);

        Assert.Equal(packed, PackWith(cache, image).Frame);
        using (var again = cache.Pack(image)) Assert.Equal(image, Unpack(again));
        Assert.NotEqual(entry, File.ReadAllBytes(EntryOf(image)));
        // Damage to the hash it keeps is found too: the CRC covers the whole entry.
        entry = File.ReadAllBytes(EntryOf(image));
        entry[50] ^= 0x01;
        File.WriteAllBytes(EntryOf(image), entry);
        Assert.Equal(EmbeddedFile.Sha256(image), PackWith(cache, image).Sha256);
    }

    [Fact]
    public void AnEntryLargerThanACopysPieceIsFoundAndCopiedWhole()
    {
        // A frame of several pieces, as the Linux kernel's (12 MB) is: its header is checked in
        // the first, its CRC over all of them.
        var random = new Random(37);
        var image = new byte[1_500_000];
        random.NextBytes(image);
        for (int i = 0; i < image.Length; i += 3) image[i] = 0;
        var cache = new EmbeddedFileCache(CacheDir);
        PackWith(cache, image);
        var other = new Compressor(19).Wrap(image).ToArray();
        Assert.True(other.Length > 3 * (256 << 10), $"a frame of {other.Length} bytes");
        ReplaceFrame(EntryOf(image), other);
        using var packed = cache.Pack(image);
        Assert.Equal(other, packed.Frame.ToArray());
        Assert.Equal(other, WrittenChunk(packed));
    }

    [Fact]
    public void ACutOffEntryIsPackedAgain()
    {
        var image = Image(300_000, 29);
        var cache = new EmbeddedFileCache(CacheDir);
        var packed = PackWith(cache, image).Frame;
        var entry = File.ReadAllBytes(EntryOf(image));
        foreach (int cut in new[] { 1, packed.Length / 2, packed.Length, packed.Length + 5, entry.Length })
        {
            File.WriteAllBytes(EntryOf(image), entry.AsSpan(0, entry.Length - cut).ToArray());
            using var again = cache.Pack(image);
            Assert.Equal(packed, again.Frame.ToArray());
            Assert.Equal(image, Unpack(again));
            Assert.Equal(entry, File.ReadAllBytes(EntryOf(image)));
        }
    }

    [Fact]
    public void AnEntryReplacedAfterItWasCheckedIsNotWhatIsWritten()
    {
        // A recording running alongside replaces the entry (by renaming another file over it)
        // between this one's check and its copy: the copy is still of the entry checked.
        var image = Image(250_000, 31);
        var cache = new EmbeddedFileCache(CacheDir);
        var frame = PackWith(cache, image).Frame;
        using var packed = cache.Pack(image);
        string other = EntryOf(image) + ".other";
        File.WriteAllBytes(other, new byte[File.ReadAllBytes(EntryOf(image)).Length]);
        File.Move(other, EntryOf(image), overwrite: true);
        Assert.Equal(frame, WrittenChunk(packed));
    }

    [Fact]
    public void AnEntryUnderAnotherFilesNameIsNotUsed()
    {
        // Same size, different bytes: only the file's hash inside the entry tells them apart.
        var a = Image(100_000, 7);
        var b = Image(100_000, 11);
        var cache = new EmbeddedFileCache(CacheDir);
        PackWith(cache, a);
        File.Copy(EntryOf(a), EntryOf(b));
        using var packed = cache.Pack(b);
        Assert.Equal(b, Unpack(packed));
        Assert.Equal(EmbeddedFile.Sha256(b), packed.Sha256);
    }

    [Fact]
    public void ACacheThatCannotBeWrittenStillPacks()
    {
        string blocker = Path.Combine(_dir, "a-file");
        File.WriteAllText(blocker, "not a directory");
        var cache = new EmbeddedFileCache(Path.Combine(blocker, "cache"));
        var image = Image(50_000, 13);
        using var packed = cache.Pack(image);
        Assert.Equal(image, Unpack(packed));
        Assert.Equal(EmbeddedFile.Sha256(image), packed.Sha256);
    }

    [Fact]
    public void AFileFoundInTheCacheTakesItsSha256FromTheEntry()
    {
        // What a recording that finds its image saves: the SHA-256 (and OpenSSL's start) as well
        // as the packing. An entry whose stored hash was changed, CRC and all, shows where the
        // hash came from.
        var image = Image(30_000, 23);
        var cache = new EmbeddedFileCache(CacheDir);
        Assert.Equal(EmbeddedFile.Sha256(image), PackWith(cache, image).Sha256);
        var entry = File.ReadAllBytes(EntryOf(image));
        string planted = new('5', 64);
        Convert.FromHexString(planted).CopyTo(entry, 40);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), Format.Crc32C.Compute(entry.AsSpan(16)));
        File.WriteAllBytes(EntryOf(image), entry);
        Assert.Equal(planted, PackWith(cache, image).Sha256);
    }

    [Fact]
    public void TheEntriesUsedLongestAgoGoWhenTheCacheIsFull()
    {
        var files = Enumerable.Range(0, 3).Select(i => Image(400_000, 17 + i)).ToArray();
        var probe = new EmbeddedFileCache(Path.Combine(_dir, "probe"));
        probe.Pack(files[0]).Dispose();
        long entrySize = new FileInfo(EntryIn(probe.Directory, files[0])).Length;
        // Room for two entries of about this size.
        var cache = new EmbeddedFileCache(CacheDir, maxBytes: entrySize * 5 / 2);
        cache.Pack(files[0]).Dispose();
        File.SetLastWriteTimeUtc(EntryOf(files[0]), DateTime.UtcNow.AddMinutes(-10));
        cache.Pack(files[1]).Dispose();
        File.SetLastWriteTimeUtc(EntryOf(files[1]), DateTime.UtcNow.AddMinutes(-5));
        // Using the oldest makes it the newest.
        cache.Pack(files[0]).Dispose();
        cache.Pack(files[2]).Dispose();
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

    // The payload of the chunk a packed file writes, read back from a trace of that one chunk.
    private byte[] WrittenChunk(PackedFile packed)
    {
        string trace = Path.Combine(_dir, "t.vmtrace");
        using (var w = new Format.ChunkWriter(File.Create(trace)))
        {
            packed.WriteTo(w, Format.ChunkType.CompressedImage);
            w.Finish();
        }
        using var r = Format.TraceFileReader.Open(trace);
        return r.ReadPayload(r.Chunks[0]);
    }

    private static void ReplaceFrame(string entry, byte[] frame)
    {
        var bytes = File.ReadAllBytes(entry);
        byte[] replaced = [.. bytes.AsSpan(0, 72), .. frame];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(replaced.AsSpan(8), Format.Crc32C.Compute(replaced.AsSpan(16)));
        File.WriteAllBytes(entry, replaced);
    }
}
