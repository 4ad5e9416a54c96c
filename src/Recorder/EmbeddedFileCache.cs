using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder;

/// <summary>
/// Packed embedded files (the zstd frames of <see cref="EmbeddedFile.Pack"/>) and the SHA-256
/// their trace header records, kept between recordings under the file's XXH3-128 hash. Packing
/// the Linux vmlinux with DWARF takes 90-160 ms of CPU on every recording and its SHA-256 25 ms,
/// on a core the guest shares, while a developer or a CI job records the same kernel again and
/// again; and the first SHA-256 of a process loads OpenSSL, 10-16 ms of the writer thread for a
/// 512-byte image, while the guest starts (this host's two cores slow each other: without that
/// work the 200,000-exit recording took 236.0 ms instead of 240.0, medians of 101 alternating
/// rounds). A recording that finds its file here writes the same bytes and the same header
/// without either.
/// <para>
/// An entry is a magic, the CRC-32C of the rest, the file's XXH3-128 hash and size, its SHA-256
/// and the frame. It is used only when all of them check out and the frame declares the file's
/// size; otherwise the file is hashed and packed again and the entry replaced. The cache trusts
/// a file with the same size and 128-bit XXH3 hash to be the one it stored (a non-cryptographic
/// hash: no accident makes two files collide, but someone who crafts a pair can; the cache is
/// the user's own directory). A directory that cannot be read or written is no cache: every
/// failure here falls back to hashing and packing, and a recording never fails because of it.
/// The entries last used longest ago are removed once they hold more than <see cref="MaxBytes"/>.
/// </para>
/// </summary>
public sealed class EmbeddedFileCache(string directory, long maxBytes = EmbeddedFileCache.DefaultMaxBytes)
{
    /// <summary>Room for some 80 Linux kernels with DWARF.</summary>
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>The directory to use instead of the default; <c>off</c> turns the cache off.</summary>
    public const string DirectoryVariable = "VMREPLAY_CACHE_DIR";

    // Entries of the first layout (VMRFRAME, named by the SHA-256) are never read again; they
    // go as the oldest once the cache is full.
    private static ReadOnlySpan<byte> Magic => "VMRFRAM2"u8;
    // Magic, CRC-32C of everything after this field, 4 reserved bytes, XXH3-128 of the file,
    // the file's size (8 bytes), its SHA-256, then the frame.
    private const int CrcAt = 8, KeyAt = 16, SizeAt = 32, Sha256At = 40, EntryHeaderSize = 72;
    private const string Extension = ".zst";

    public string Directory { get; } = directory;

    public long MaxBytes { get; } = maxBytes;

    /// <summary>
    /// The cache the environment asks for: <c>$VMREPLAY_CACHE_DIR</c>, else
    /// <c>$XDG_CACHE_HOME/vmreplay/embedded</c>, else <c>~/.cache/vmreplay/embedded</c>; null when
    /// <c>VMREPLAY_CACHE_DIR=off</c> or there is no home directory.
    /// </summary>
    public static EmbeddedFileCache? FromEnvironment()
    {
        string? chosen = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (chosen == "off") return null;
        if (!string.IsNullOrEmpty(chosen)) return new EmbeddedFileCache(chosen);
        string? cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cacheHome))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home)) return null;
            cacheHome = Path.Combine(home, ".cache");
        }
        return new EmbeddedFileCache(Path.Combine(cacheHome, "vmreplay", "embedded"));
    }

    /// <summary>
    /// <paramref name="file"/> packed as <see cref="EmbeddedFile.Pack"/> packs it, and its
    /// SHA-256 as <see cref="EmbeddedFile.Sha256"/> gives it: from the cache when it holds a sound
    /// entry for the file (then the entry stays mapped until the result is disposed, and its frame
    /// is written from there), else made now and stored.
    /// </summary>
    public PackedFile Pack(ReadOnlySpan<byte> file)
    {
        Span<byte> key = stackalloc byte[16];
        XxHash128.Hash(file, key);
        string path = Path.Combine(Directory, LowerHex(key) + Extension);
        if (Read(path, key, file.Length) is { } cached)
        {
            // The entry's time orders the cache for trimming, nothing else: no guest sees it.
            try { File.SetLastWriteTimeUtc(path, DateTime.UtcNow); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return cached;
        }
        string sha256 = EmbeddedFile.Sha256(file);
        var frame = EmbeddedFile.Pack(file);
        Store(path, key, file.Length, sha256, frame.Span);
        return PackedFile.InMemory(frame, sha256);
    }

    // As Convert.ToHexStringLower writes bytes (a whole number of 8-byte words here), from the
    // words' own hex formatting: Convert's vectorised code is in no precompiled image, and the JIT
    // compiled it for every cached recording's key and hash (two methods, about 1 ms).
    private static string LowerHex(ReadOnlySpan<byte> bytes)
    {
        var text = new System.Text.StringBuilder(bytes.Length * 2);
        for (int at = 0; at < bytes.Length; at += 8) text.Append(BinaryPrimitives.ReadUInt64BigEndian(bytes[at..]).ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }

    // The entry is mapped, not read: reading it into an array of its own cost more than all the
    // rest (the kernel gave the array its pages one by one, then copied into them), and the chunk
    // is written from the mapping. Entries are replaced by renaming and removed by unlinking,
    // never rewritten or cut in place, so the mapped entry stays whole and the frame written is
    // the one checked.
    private static unsafe PackedFile? Read(string path, ReadOnlySpan<byte> key, long size)
    {
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* mapped = null;
        try
        {
            if (!File.Exists(path)) return null;
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 0);
            long length = file.Length;
            if (length <= EntryHeaderSize || length - EntryHeaderSize > TraceFormat.MaxPayload) return null;
            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref mapped);
            byte* start = mapped + view.PointerOffset;
            var entry = new ReadOnlySpan<byte>(start, (int)length);
            if (!IsSound(entry, key, size)) return null;
            var packed = PackedFile.InEntry(map, view, start + EntryHeaderSize, (int)length - EntryHeaderSize, LowerHex(entry.Slice(Sha256At, 32)));
            map = null;
            view = null;
            mapped = null;
            return packed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        finally
        {
            if (mapped != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
        }
    }

    // Whether an entry is one for the file of `key` and `size`: its magic, key and size, the size
    // its frame's header declares, and its CRC.
    private static bool IsSound(ReadOnlySpan<byte> entry, ReadOnlySpan<byte> key, long size) =>
        entry[..Magic.Length].SequenceEqual(Magic) && entry.Slice(KeyAt, key.Length).SequenceEqual(key)
        && BinaryPrimitives.ReadInt64LittleEndian(entry[SizeAt..]) == size
        && ContentSize(entry[EntryHeaderSize..]) == (ulong)size
        && BinaryPrimitives.ReadUInt32LittleEndian(entry[CrcAt..]) == Crc32C.Compute(entry[KeyAt..]);

    // The size a zstd frame's header declares (Decompressor.GetDecompressedSize would walk the
    // whole frame: the CRC covers it).
    private static unsafe ulong ContentSize(ReadOnlySpan<byte> frameStart)
    {
        fixed (byte* start = frameStart) return ZstdSharp.Unsafe.Methods.ZSTD_getFrameContentSize(start, (nuint)frameStart.Length);
    }

    private void Store(string path, ReadOnlySpan<byte> key, long size, string sha256, ReadOnlySpan<byte> frame)
    {
        // Written whole under another name and renamed into place, so that a recording running
        // alongside never reads half an entry.
        string partial = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.partial";
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            Span<byte> header = stackalloc byte[EntryHeaderSize];
            header.Clear();
            Magic.CopyTo(header);
            key.CopyTo(header[KeyAt..]);
            BinaryPrimitives.WriteInt64LittleEndian(header[SizeAt..], size);
            Convert.FromHexString(sha256, header[Sha256At..], out _, out _);
            BinaryPrimitives.WriteUInt32LittleEndian(header[CrcAt..], Crc32C.Compute(header[KeyAt..], frame));
            using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(header);
                stream.Write(frame);
            }
            File.Move(partial, path, overwrite: true);
            Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(partial); }
            catch (Exception f) when (f is IOException or UnauthorizedAccessException) { }
        }
    }

    private void Trim()
    {
        var entries = new DirectoryInfo(Directory).GetFiles("*" + Extension).OrderByDescending(f => f.LastWriteTimeUtc).ToList();
        long kept = 0;
        foreach (var entry in entries)
        {
            kept += entry.Length;
            if (kept > MaxBytes) entry.Delete();
        }
    }
}
