namespace VmReplay.Recorder.Format;

/// <summary>Where a chunk is: its position in the file, type, payload size and the first event it holds.</summary>
public readonly record struct ChunkInfo(int Number, ChunkType Type, long Offset, uint PayloadLength, ulong FirstEvent)
{
    public long End => Offset + TraceFormat.ChunkHeaderSize + PayloadLength + TraceFormat.ChunkCrcSize;
}
