using System.Buffers.Binary;
using VmReplay.Recorder.Format;
using ZstdSharp;

namespace VmReplay.Recorder;

/// <summary>
/// Packed embedded files (the zstd frames of <see cref="EmbeddedFile.Pack"/>) kept between
/// recordings, under the SHA-256 of the file they hold. Packing the Linux vmlinux with DWARF
/// takes 90-160 ms of CPU on every recording, on a core the guest shares, while a developer or
/// a CI job records the same kernel again and again; a recording that finds its image here
/// writes the same bytes without packing it.
/// <para>
/// An entry is a magic, the CRC-32C of the frame, the SHA-256 of the file and the frame. It is
/// used only when all of them check out and the frame declares the file's size; otherwise the
/// file is packed again and the entry replaced. A directory that cannot be read or written is no cache: every failure here falls
/// back to packing, and a recording never fails because of it. The entries last used longest
/// ago are removed once they hold more than <see cref="MaxBytes"/>.
/// </para>
/// </summary>
public sealed class EmbeddedFileCache(string directory, long maxBytes = EmbeddedFileCache.DefaultMaxBytes)
{
    /// <summary>Room for some 80 Linux kernels with DWARF.</summary>
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>The directory to use instead of the default; <c>off</c> turns the cache off.</summary>
    public const string DirectoryVariable = "VMREPLAY_CACHE_DIR";

    private static ReadOnlySpan<byte> Magic => "VMRFRAME"u8;
    private const int EntryHeaderSize = 48; // magic, CRC-32C of the frame, 4 reserved bytes, SHA-256 of the file
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
    /// <paramref name="file"/> packed as <see cref="EmbeddedFile.Pack"/> packs it: from the cache
    /// when it holds a sound entry for <paramref name="sha256"/> (which must be the file's own
    /// SHA-256, <see cref="EmbeddedFile.Sha256"/>), else packed now and stored.
    /// </summary>
    public ReadOnlyMemory<byte> Pack(ReadOnlySpan<byte> file, string sha256)
    {
        byte[] key = Convert.FromHexString(sha256);
        string path = Path.Combine(Directory, Convert.ToHexStringLower(key) + Extension);
        if (Read(path, key, file.Length) is { } cached)
        {
            // The entry's time orders the cache for trimming, nothing else: no guest sees it.
            try { File.SetLastWriteTimeUtc(path, DateTime.UtcNow); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return cached;
        }
        var frame = EmbeddedFile.Pack(file);
        Store(path, key, frame.Span);
        return frame;
    }

    private static ReadOnlyMemory<byte>? Read(string path, ReadOnlySpan<byte> key, long size)
    {
        byte[] entry;
        try
        {
            if (!File.Exists(path)) return null;
            entry = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        if (entry.Length < EntryHeaderSize || !entry.AsSpan(0, Magic.Length).SequenceEqual(Magic) || !entry.AsSpan(16, 32).SequenceEqual(key)) return null;
        var frame = entry.AsMemory(EntryHeaderSize);
        if (BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(8)) != Crc32C.Compute(frame.Span)) return null;
        try
        {
            if (Decompressor.GetDecompressedSize(frame.Span) != (ulong)size) return null;
        }
        catch (ZstdException) { return null; }
        return frame;
    }

    private void Store(string path, ReadOnlySpan<byte> key, ReadOnlySpan<byte> frame)
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
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Compute(frame));
            key.CopyTo(header[16..]);
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
