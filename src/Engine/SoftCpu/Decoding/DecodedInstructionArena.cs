namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>
/// Where a processor keeps its blocks' decoded instructions: slices of a few large arrays,
/// handed out in order, instead of an array per block. The arrays live on the large-object
/// heap, so the decoded code, most of what a guest run keeps alive, neither fills the young
/// generation (the Linux boot decodes 6 MB of it, which set off a collection in every
/// recording) nor is copied by every collection that finds it alive. Like QEMU's translation
/// buffer it has a fixed size: when it is full the processor forgets all its code and starts
/// again from the beginning (<see cref="Reset"/>).
/// </summary>
internal sealed class DecodedInstructionArena
{
    /// <summary>Instructions per array: 8,192 take about 0.9 MB.</summary>
    public const int ChunkLength = 8192;

    /// <summary>Arrays at most: 512 Ki instructions, about 56 MB; the Linux boot decodes 64 Ki.</summary>
    public const int MaxChunks = 64;

    private readonly int _chunkLength, _maxChunks;
    private readonly List<DecodedInstruction[]> _chunks = new();
    private int _chunk = -1;
    private int _used;

    /// <summary>An arena of at most <paramref name="maxChunks"/> arrays of <paramref name="chunkLength"/> instructions (at least a block's worth).</summary>
    public DecodedInstructionArena(int chunkLength = ChunkLength, int maxChunks = MaxChunks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkLength, Block.MaxInstructions);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunks, 1);
        _chunkLength = chunkLength;
        _maxChunks = maxChunks;
        _used = chunkLength;
    }

    /// <summary>How many times the arena has been <see cref="Reset"/>.</summary>
    public int Resets { get; private set; }

    /// <summary>
    /// Copies <paramref name="ops"/> into the arena and says where; false, with nothing copied,
    /// when it is full.
    /// </summary>
    public bool TryStore(ReadOnlySpan<DecodedInstruction> ops, out DecodedInstruction[] chunk, out int start)
    {
        if (ops.IsEmpty)
        {
            chunk = [];
            start = 0;
            return true;
        }
        if (_used + ops.Length > _chunkLength)
        {
            if (_chunk + 1 == _maxChunks || ops.Length > _chunkLength)
            {
                chunk = [];
                start = 0;
                return false;
            }
            _chunk++;
            // Not zeroed: only the slices written here are ever read.
            if (_chunk == _chunks.Count) _chunks.Add(GC.AllocateUninitializedArray<DecodedInstruction>(_chunkLength));
            _used = 0;
        }
        chunk = _chunks[_chunk];
        start = _used;
        ops.CopyTo(chunk.AsSpan(start));
        _used += ops.Length;
        return true;
    }

    /// <summary>
    /// Starts again from the first array, overwriting what earlier blocks hold: only after every
    /// block has been invalidated, and not while one is executing.
    /// </summary>
    public void Reset()
    {
        _chunk = -1;
        _used = _chunkLength;
        Resets++;
    }
}
