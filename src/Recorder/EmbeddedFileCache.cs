using System.Buffers.Binary;
using System.IO.Hashing;
using VmReplay.Recorder.Format;
using ZstdSharp;

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
    /// entry for the file, else made now and stored.
    /// </summary>
    public (ReadOnlyMemory<byte> Frame, string Sha256) Pack(ReadOnlySpan<byte> file)
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
        return (frame, sha256);
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

    private static (ReadOnlyMemory<byte>, string)? Read(string path, ReadOnlySpan<byte> key, long size)
    {
        byte[] entry;
        try
        {
            if (!File.Exists(path)) return null;
            entry = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        if (entry.Length < EntryHeaderSize || !entry.AsSpan(0, Magic.Length).SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(CrcAt)) != Crc32C.Compute(entry.AsSpan(KeyAt))
            || !entry.AsSpan(KeyAt, key.Length).SequenceEqual(key) || BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(SizeAt)) != size)
            return null;
        var frame = entry.AsMemory(EntryHeaderSize);
        try
        {
            if (Decompressor.GetDecompressedSize(frame.Span) != (ulong)size) return null;
        }
        catch (ZstdException) { return null; }
        return (frame, LowerHex(entry.AsSpan(Sha256At, 32)));
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
