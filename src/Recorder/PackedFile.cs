using System.IO.MemoryMappedFiles;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder;

/// <summary>
/// An embedded file packed for its chunk (the zstd frame of <see cref="EmbeddedFile.Pack"/>) and
/// the SHA-256 its trace header records: either a frame just packed, in memory, or a checked
/// entry of the <see cref="EmbeddedFileCache"/>, mapped: the chunk is written from the entry's
/// pages in the OS's file cache. Reading the Linux vmlinux's 12 MB entry into an array of its own,
/// then writing that, took 18 ms of the writer thread at every recording (most of it the kernel
/// handing the new array its pages, then copying into them), on a core the guest shares.
/// </summary>
public sealed unsafe class PackedFile : IDisposable
{
    private readonly ReadOnlyMemory<byte> _frame;
    private readonly MemoryMappedFile? _entry;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _mapped;
    private bool _disposed;

    private PackedFile(ReadOnlyMemory<byte> frame, MemoryMappedFile? entry, MemoryMappedViewAccessor? view, byte* mapped, int length, string sha256)
    {
        _frame = frame;
        _entry = entry;
        _view = view;
        _mapped = mapped;
        Length = length;
        Sha256 = sha256;
    }

    /// <summary>A frame held in memory.</summary>
    public static PackedFile InMemory(ReadOnlyMemory<byte> frame, string sha256) => new(frame, null, null, null, frame.Length, sha256);

    /// <summary>
    /// The <paramref name="length"/> bytes at <paramref name="frame"/> in <paramref name="view"/>
    /// of a mapped cache entry, whose pointer <paramref name="view"/> holds acquired; this then
    /// owns the mapping and releases it when disposed.
    /// </summary>
    internal static PackedFile InEntry(MemoryMappedFile entry, MemoryMappedViewAccessor view, byte* frame, int length, string sha256) =>
        new(default, entry, view, frame, length, sha256);

    /// <summary>The frame's size in bytes.</summary>
    public int Length { get; }

    /// <summary>The file's SHA-256, lower-case hex, as <see cref="EmbeddedFile.Sha256"/> gives it.</summary>
    public string Sha256 { get; }

    /// <summary>The frame; valid until this is disposed.</summary>
    public ReadOnlySpan<byte> Frame
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _entry is null ? _frame.Span : new ReadOnlySpan<byte>(_mapped, Length);
        }
    }

    /// <summary>Appends the frame to <paramref name="chunks"/> as one chunk of <paramref name="type"/>.</summary>
    public ChunkInfo WriteTo(ChunkWriter chunks, ChunkType type) => chunks.Write(type, Frame);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is null) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _entry!.Dispose();
    }
}
