namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>
/// A run of decoded instructions from one linear address in one code size, ending at a branch,
/// an instruction that changes how code is fetched, the end of its page or a length limit. It is
/// valid while its bytes are unchanged (self-modifying code and VMM writes invalidate it) and is
/// found again by linear address, then checked against the current translation.
/// </summary>
internal sealed unsafe class Block
{
    public const int MaxInstructions = 64;

    public Block(BlockKey key, ulong physical, ulong physicalEnd, ulong secondPage, DecodedInstruction* ops, int count)
    {
        Key = key;
        Physical = physical;
        PhysicalEnd = physicalEnd;
        SecondPage = secondPage;
        _ops = ops;
        _count = count;
    }

    public BlockKey Key { get; }

    /// <summary>Physical address of the first byte.</summary>
    public ulong Physical { get; }

    /// <summary>Physical address after the last byte on the first page.</summary>
    public ulong PhysicalEnd { get; }

    /// <summary>The physical page holding the rest of an instruction that crosses the page end, or <see cref="NoPage"/>.</summary>
    public ulong SecondPage { get; }

    public const ulong NoPage = ulong.MaxValue;

    // The block's instructions, in its processor's DecodedInstructionArena.
    private readonly DecodedInstruction* _ops;
    private readonly int _count;

    public Span<DecodedInstruction> Ops => new(_ops, _count);

    public bool Valid = true;

    /// <summary>The block execution went on to last time, and the translation generation it was valid in (block chaining).</summary>
    public Block? Successor;
    public long SuccessorGeneration = -1;

    /// <summary>The page-log collection this block last noted its pages in (0: none; see Processor.PageLog).</summary>
    public long Collection;

    /// <summary>Whether an execution breakpoint lies in this block, as of breakpoint set <see cref="BreakpointVersion"/>.</summary>
    public bool HasBreakpoint;
    public long BreakpointVersion = -1;

    public IEnumerable<ulong> Pages()
    {
        yield return Physical & ~0xFFFUL;
        if (SecondPage != NoPage) yield return SecondPage;
    }

    /// <summary>Whether a write of <paramref name="size"/> bytes at <paramref name="pa"/> changes bytes this block was decoded from.</summary>
    public bool Overlaps(ulong pa, int size) =>
        pa < PhysicalEnd && pa + (ulong)size > Physical
        || SecondPage != NoPage && (pa & ~0xFFFUL) == SecondPage;
}

/// <summary>
/// What identifies a block: where it starts, linearly, the code size it was decoded for and the
/// CS base (instruction addresses in it are offsets within CS, as RIP is).
/// </summary>
internal readonly record struct BlockKey(ulong Linear, int Bitness, ulong CsBase)
{
    /// <summary>RIP at the block's first instruction.</summary>
    public ulong Offset => Linear - CsBase;
}
