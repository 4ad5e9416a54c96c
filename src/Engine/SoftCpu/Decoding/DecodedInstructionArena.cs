using System.Runtime.InteropServices;

namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>
/// Where a processor keeps its blocks' decoded instructions: slices of a few large blocks of
/// native memory, handed out in order, instead of a managed array per block. Decoded code is
/// most of what a guest run keeps alive; as small arrays it filled the young generation (the
/// Linux boot decodes 6 MB of it, which set off a 10-14 ms collection in every recording) and
/// was copied by every collection that found it alive, and as large arrays it set off full
/// collections (the bzImage boot: one in every run, two in every replay, 5-6 ms each). Like
/// QEMU's translation buffer it has a fixed size: when it is full the processor forgets all its
/// code and starts again from the beginning (<see cref="Reset"/>). The memory is freed when
/// the arena is, with its processor.
/// </summary>
internal sealed unsafe class DecodedInstructionArena
{
    /// <summary>Instructions per block of memory: 8,192 take about 0.9 MB.</summary>
    public const int ChunkLength = 8192;

    /// <summary>Blocks of memory at most: 512 Ki instructions, about 56 MB; the Linux boot decodes 64 Ki.</summary>
    public const int MaxChunks = 64;

    private readonly int _chunkLength, _maxChunks;
    private readonly List<nint> _chunks = new();
    private int _chunk = -1;
    private int _used;

    /// <summary>An arena of at most <paramref name="maxChunks"/> blocks of <paramref name="chunkLength"/> instructions (at least a block's worth).</summary>
    public DecodedInstructionArena(int chunkLength = ChunkLength, int maxChunks = MaxChunks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkLength, Block.MaxInstructions);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunks, 1);
        _chunkLength = chunkLength;
        _maxChunks = maxChunks;
        _used = chunkLength;
    }

    ~DecodedInstructionArena()
    {
        foreach (nint chunk in _chunks) NativeMemory.Free((void*)chunk);
    }

    /// <summary>How many times the arena has been <see cref="Reset"/>.</summary>
    public int Resets { get; private set; }

    /// <summary>
    /// Copies <paramref name="ops"/> into the arena and returns where they are, valid until the
    /// next <see cref="Reset"/> and while the arena lives; null, with nothing copied, when it is
    /// full.
    /// </summary>
    public DecodedInstruction* TryStore(ReadOnlySpan<DecodedInstruction> ops)
    {
        if (_used + ops.Length > _chunkLength)
        {
            if (_chunk + 1 == _maxChunks || ops.Length > _chunkLength) return null;
            _chunk++;
            if (_chunk == _chunks.Count) _chunks.Add((nint)NativeMemory.Alloc((nuint)_chunkLength, (nuint)sizeof(DecodedInstruction)));
            _used = 0;
        }
        var at = (DecodedInstruction*)_chunks[_chunk] + _used;
        ops.CopyTo(new Span<DecodedInstruction>(at, ops.Length));
        _used += ops.Length;
        return at;
    }

    /// <summary>
    /// Starts again from the first block of memory: only once every block decoded so far has
    /// been invalidated, as the next ones decoded overwrite what they hold.
    /// </summary>
    public void Reset()
    {
        _chunk = -1;
        _used = _chunkLength;
        Resets++;
    }
}
