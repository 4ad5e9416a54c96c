using System.Buffers.Binary;
using System.Text;

namespace VmReplay.Recorder.Format;

/// <summary>A chunk's four-character type (traces/FORMAT.md).</summary>
public readonly record struct ChunkType(uint Value)
{
    public static readonly ChunkType Header = From("HEAD");
    /// <summary>The guest image stored raw: version 1 traces only.</summary>
    public static readonly ChunkType Image = From("IMAG");
    /// <summary>The guest image as one zstd frame (version 2 on).</summary>
    public static readonly ChunkType CompressedImage = From("IMGZ");
    /// <summary>The initrd as one zstd frame (version 2 on; absent when the guest had none).</summary>
    public static readonly ChunkType Initrd = From("INRD");
    public static readonly ChunkType Events = From("EVNT");
    public static readonly ChunkType Snapshot = From("SNAP");
    public static readonly ChunkType End = From("END_");
    public static readonly ChunkType Fault = From("FALT");
    public static readonly ChunkType Modes = From("MODE");
    public static readonly ChunkType Index = From("INDX");

    public static ChunkType From(string fourCc)
    {
        if (fourCc.Length != 4) throw new ArgumentException("a chunk type has four characters", nameof(fourCc));
        return new ChunkType(BinaryPrimitives.ReadUInt32LittleEndian(Encoding.ASCII.GetBytes(fourCc)));
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, Value);
        foreach (byte c in b)
            if (c < 0x20 || c > 0x7E) return $"0x{Value:x8}";
        return Encoding.ASCII.GetString(b);
    }
}
