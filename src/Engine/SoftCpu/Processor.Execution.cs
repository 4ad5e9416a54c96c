using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

public sealed unsafe partial class Processor
{
    /// <summary>The last exit's details.</summary>
    public ProcessorExit Exit { get; } = new();

    private int _kicked;

    /// <summary>
    /// Replaying a KVM recording made where KVM could not execute IRET, INT3 or CMPXCHG8B/16B
    /// itself: the VMM emulated each and logged it as an exit, so while this is set such an
    /// instruction ends the run when it retires (<see cref="ProcessorExitKind.Emulated"/>), and
    /// the replay meets the exit the recording has there.
    /// </summary>
    public bool ReportsEmulatedInstructions { get; set; }

    // After IRET, INT3 or CMPXCHG8B/16B (see ReportsEmulatedInstructions).
    internal void RetiredVmmEmulatedInstruction()
    {
        if (!ReportsEmulatedInstructions) return;
        Exit.Set(ProcessorExitKind.Emulated);
        _exitAfterInstruction = true;
    }

    /// <summary>Whether something during the current instruction wants the run loop to look after it (a REP instruction stops iterating).</summary>
    internal bool StopAfterInstruction => _exitAfterInstruction;
    // Set during an instruction by something that must end the block after it: code it wrote
    // was decoded, an MMIO write waits for the VMM.
    private bool _exitAfterInstruction;
    // Set by a handler that stopped before completing its instruction (port I/O, a VMM-answered MSR).
    private bool _incomplete;
    private delegate*<Processor, ref DecodedInstruction, void> _completion;

    /// <summary>Whether an instruction that exited is still to be completed (by the next run or <see cref="CompletePendingInstruction"/>).</summary>
    internal bool HasPendingInstruction => _completion != null;
    private DecodedInstruction _pending;

    // Decoded blocks by linear address and code size. The generation counts translation changes:
    // a chained successor found under an older generation is looked up again.
    private readonly Dictionary<BlockKey, Block> _blocks = new();
    // The blocks' instructions; emptied whenever every block is invalidated.
    private DecodedInstructionArena _decoded = new();
    // In front of _blocks, by linear address: a block whose chained successor has changed (a
    // conditional branch, a return) is found here with a few compares instead of a dictionary
    // lookup of a three-field key, which took an eighth of the Linux boot's vCPU time. A slot
    // holds a block that was in _blocks when it was put there; Valid says it still may be used.
    private const int BlockCacheBits = 12;
    private readonly Block?[] _blockCache = new Block?[1 << BlockCacheBits];
    private long _mapGeneration;
    private Block? _previousBlock;

    /// <summary>Where decoded instructions are kept; replaced by tests to make it fill up soon.</summary>
    internal DecodedInstructionArena DecodedInstructions
    {
        get => _decoded;
        set
        {
            InvalidateAllCode();
            _decoded = value;
        }
    }

    private readonly HashSet<ulong> _breakpoints = new();
    private long _breakpointVersion;

    /// <summary>
    /// How many instructions may retire from the start of the current block before the run's
    /// limit: exact for an instruction that runs alone in its block (a REP string instruction,
    /// whose handler may retire up to this many iterations, adding all but one with <see cref="RetireExtra"/>).
    /// </summary>
    internal long RepeatBudget;

    /// <summary>Counts <paramref name="n"/> more retired instructions than the run loop's one per handler call (REP iterations).</summary>
    internal void RetireExtra(long n) => InstructionCount += n;

    /// <summary>When set, <see cref="Run"/> stops with <see cref="ProcessorExitKind.InterruptWindow"/> where the guest can take an interrupt.</summary>
    public bool RequestInterruptWindow { get; set; }

    /// <summary>Told the disassembly and bytes of every instruction this processor does not implement, before it raises #UD.</summary>
    public Action<string>? UnimplementedInstruction { get; set; }

    /// <summary>Makes a running <see cref="Run"/> return <see cref="ProcessorExitKind.Kicked"/> at its next block boundary. Any thread.</summary>
    public void Kick() => Volatile.Write(ref _kicked, 1);

    /// <summary>
    /// A linear address where a REP string instruction whose count runs out stays, once, with RIP
    /// at itself (<see cref="Backend.DebugSetup.ExhaustedRepeatStaysAt"/>); null: it moves on.
    /// </summary>
    public ulong? ExhaustedRepeatStaysAt { get; set; }

    /// <summary>Execution breakpoints (linear addresses): <see cref="Run"/> stops before executing an instruction at one.</summary>
    public void SetBreakpoints(IEnumerable<ulong> linearAddresses)
    {
        _breakpoints.Clear();
        foreach (ulong a in linearAddresses) _breakpoints.Add(a);
        _breakpointVersion++;
    }

    /// <summary>The linear address of the next instruction.</summary>
    public ulong LinearRip => (SegBase[Cs] + Rip) & LinearMask;

    /// <summary>
    /// Runs until an exit, or until <see cref="InstructionCount"/> reaches
    /// <paramref name="instructionLimit"/>. An instruction left incomplete by the previous exit is
    /// completed first. With <paramref name="ignoreBreakpointHere"/>, a breakpoint at the first
    /// instruction does not stop it (resuming from that breakpoint).
    /// </summary>
    public ProcessorExitKind Run(long instructionLimit = long.MaxValue, bool ignoreBreakpointHere = false)
    {
        if (_deferredExit is { } deferred)
        {
            // A fault outside a run (completing an instruction, delivering an interrupt) shut the processor down.
            _deferredExit = null;
            return deferred;
        }
        Exit.Clear();
        if (_completion != null && !CompletePending()) return Exit.Kind;
        bool ignoreBreakpoint = ignoreBreakpointHere;
        while (true)
        {
            if (Volatile.Read(ref _kicked) != 0)
            {
                Volatile.Write(ref _kicked, 0);
                return Stop(ProcessorExitKind.Kicked);
            }
            if (InstructionCount >= instructionLimit) return Stop(ProcessorExitKind.InstructionLimit);
            if (RequestInterruptWindow && InterruptsEnabled && !InterruptShadow) return Stop(ProcessorExitKind.InterruptWindow);

            Block block;
            try
            {
                block = CurrentBlock();
            }
            catch (GuestException e)
            {
                if (!RaiseFault(e, Rip)) return Exit.Kind;
                continue;
            }
            catch (NotEmulatedException e)
            {
                return Unsupported(e.Message);
            }

            if (MustNoteExecution(block)) NoteExecution(block);
            var ops = block.Ops;
            int n = ops.Length;
            long left = instructionLimit - InstructionCount;
            if (left < n) n = (int)left;
            bool trap = (_flags & FlagTf) != 0;
            if (InterruptShadow || trap) n = 1;
            if (_breakpoints.Count > 0 && BlockHasBreakpoint(block))
            {
                // Run up to the first breakpoint of the block, one instruction at a time.
                for (int k = 0; k < n; k++)
                {
                    if (_breakpoints.Contains((SegBase[Cs] + ops[k].Ip) & LinearMask) && !(ignoreBreakpoint && k == 0))
                    {
                        if (k == 0) return Stop(ProcessorExitKind.Breakpoint);
                        n = k;
                        break;
                    }
                }
            }
            ignoreBreakpoint = false;
            InterruptShadow = false;
            RepeatBudget = instructionLimit - InstructionCount;
            // RF, which an IRET loads (back into an instruction a hardware vCPU interrupted
            // between REP iterations, as a KVM recording's stack may hold), lasts until the next
            // instruction completes. Nothing here depends on it meanwhile (there are no
            // debug-register breakpoints to suppress), so it ends as that instruction starts;
            // left set, it stayed for ever and a KVM recording's replay ended with other flags.
            _flags &= ~FlagRf;

            int i = 0;
            try
            {
                while (i < n)
                {
                    ref var op = ref ops[i];
                    bool goesOn = op.Execute(this, ref op);
                    i++;
                    if (!goesOn || _exitAfterInstruction)
                    {
                        if (goesOn) Rip = op.NextIp;
                        goto ended;
                    }
                }
                Rip = ops[i - 1].NextIp;
            ended:
                if (_incomplete)
                {
                    _incomplete = false;
                    InstructionCount += i - 1;
                    _previousBlock = null;
                    return Exit.Kind;
                }
                InstructionCount += i;
                if (trap) RaiseDebugTrap();
                if (_exitAfterInstruction)
                {
                    _exitAfterInstruction = false;
                    _previousBlock = null;
                    if (Exit.Kind != ProcessorExitKind.None) return Exit.Kind;
                }
            }
            catch (GuestException e)
            {
                InstructionCount += i;
                _exitAfterInstruction = false;
                _previousBlock = null;
                if (!RaiseFault(e, ops[i].Ip)) return Exit.Kind;
            }
            catch (ExitRequest)
            {
                // The instruction needs the VMM first (an MMIO read); it runs again afterwards.
                InstructionCount += i;
                Rip = ops[i].Ip;
                _exitAfterInstruction = false;
                _previousBlock = null;
                return Exit.Kind;
            }
            catch (NotEmulatedException e)
            {
                InstructionCount += i;
                Rip = ops[i].Ip;
                return Unsupported(e.Message);
            }
            if (Exit.Kind != ProcessorExitKind.None) return Exit.Kind;
        }
    }

    private ProcessorExitKind Stop(ProcessorExitKind kind)
    {
        Exit.Set(kind);
        _previousBlock = null;
        return kind;
    }

    private ProcessorExitKind Unsupported(string message)
    {
        Exit.Set(ProcessorExitKind.Unsupported);
        Exit.Message = message;
        _previousBlock = null;
        return ProcessorExitKind.Unsupported;
    }

    private ProcessorExitKind? _deferredExit;

    /// <summary>
    /// Completes an instruction the last exit left pending (a port read reaches its register)
    /// without running further, so that a state can be saved or an interrupt delivered at an
    /// instruction boundary. An MMIO read with its answer in runs its instruction again now.
    /// </summary>
    public void CompletePendingInstruction()
    {
        if (_completion != null)
        {
            Exit.Clear();
            if (!CompletePending()) _deferredExit = Exit.Kind;
        }
        else if (_mmioAnswerReady)
        {
            var kind = Run(InstructionCount + 1);
            if (kind != ProcessorExitKind.InstructionLimit) _deferredExit = kind;
        }
    }

    // A loaded state is a new starting point: an instruction the last exit left for completion,
    // an MMIO answer or a deferred exit belong to the state that was replaced (a snapshot restore
    // would otherwise complete the old instruction at the new RIP).
    private void ForgetPendingWork()
    {
        _completion = null;
        _incomplete = false;
        _mmioAnswerReady = false;
        _deferredExit = null;
        _exitAfterInstruction = false;
        Exit.Clear();
    }

    /// <summary>Forgets a kick that has not stopped a run yet.</summary>
    public void DiscardKick() => Volatile.Write(ref _kicked, 0);

    /// <summary>Completes the instruction an exit left pending; false when that ended the run (a fault that shut down).</summary>
    private bool CompletePending()
    {
        var completion = _completion;
        _completion = null;
        try
        {
            completion(this, ref _pending);
            InstructionCount++;
            return true;
        }
        catch (GuestException e)
        {
            return RaiseFault(e, _pending.Ip);
        }
    }

    /// <summary>
    /// Called by a handler that needs the VMM before its instruction can complete: records the
    /// exit, keeps the instruction for <paramref name="completion"/> on the next run, and leaves
    /// RIP at it. The handler returns the result.
    /// </summary>
    internal bool ExitBeforeCompletion(ref DecodedInstruction d, ProcessorExitKind kind, ulong address, int size,
        delegate*<Processor, ref DecodedInstruction, void> completion)
    {
        Exit.Set(kind, address, size);
        _pending = d;
        _completion = completion;
        _incomplete = true;
        Rip = d.Ip;
        return false;
    }

    /// <summary>Called by a handler whose instruction completed and that must hand over to the VMM now (HLT).</summary>
    internal bool ExitAfter(ref DecodedInstruction d, ProcessorExitKind kind)
    {
        Exit.Set(kind);
        Rip = d.NextIp;
        _exitAfterInstruction = true;
        return false;
    }

    /// <summary>Answers the MMIO read the last exit asked for; the instruction runs again on the next <see cref="Run"/>.</summary>
    public void AnswerMmioRead(ulong value)
    {
        _mmioAnswerReady = true;
        _mmioAnswerAddress = Exit.Address;
        _mmioAnswerSize = Exit.Size;
        _mmioAnswer = value;
    }

    private bool BlockHasBreakpoint(Block b)
    {
        if (b.BreakpointVersion != _breakpointVersion)
        {
            b.HasBreakpoint = false;
            foreach (ref var op in b.Ops)
                if (_breakpoints.Contains((SegBase[Cs] + op.Ip) & LinearMask)) b.HasBreakpoint = true;
            b.BreakpointVersion = _breakpointVersion;
        }
        return b.HasBreakpoint;
    }

    // The block at CS:RIP: the successor the previous block went to last time if it still
    // applies, else from the cache by linear address (checked against the current translation),
    // else decoded now.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block CurrentBlock()
    {
        ulong la = (SegBase[Cs] + Rip) & LinearMask;
        var previous = _previousBlock;
        if (previous is not null && previous.Successor is { } s && previous.SuccessorGeneration == _mapGeneration
            && s.Valid && s.Key.Linear == la && s.Key.Bitness == Bitness && s.Key.CsBase == SegBase[Cs])
            return _previousBlock = s;
        var b = LookupBlock(la);
        if (previous is not null)
        {
            previous.Successor = b;
            previous.SuccessorGeneration = _mapGeneration;
        }
        return _previousBlock = b;
    }

    private Block LookupBlock(ulong la)
    {
        ulong pa = TranslateFetch(la, out byte* host);
        ref var slot = ref _blockCache[(int)((la ^ (la >> BlockCacheBits)) & ((1 << BlockCacheBits) - 1))];
        var b = slot;
        int bitness = Bitness;
        ulong csBase = SegBase[Cs];
        if (b is null || b.Key.Linear != la || b.Key.Bitness != bitness || b.Key.CsBase != csBase)
            _blocks.TryGetValue(new BlockKey(la, bitness, csBase), out b);
        if (b is not null && b.Valid && b.Physical == pa
            && (b.SecondPage == Block.NoPage || SecondPageStill(la, b.SecondPage)))
            return slot = b;
        return slot = DecodeBlock(new BlockKey(la, bitness, csBase), pa, host);
    }

    // Apart from LookupBlock because the page-crossing callback's closure would otherwise be
    // allocated on every lookup, hits included (the compiler creates it at method entry).
    private Block DecodeBlock(BlockKey key, ulong pa, byte* host)
    {
        ulong la = key.Linear;
        if (host is null) throw new NotEmulatedException($"the guest executes at physical {pa:x}, which is not RAM");
        Func<(ulong, nint)?> nextPage = () =>
        {
            try
            {
                ulong next = TranslateFetch(((la & PageMask) + GuestMemory.PageSize) & LinearMask, out byte* nextHost);
                return nextHost is null ? null : (next & PageMask, (nint)nextHost);
            }
            catch (GuestException) { return null; }
        };
        var b = BlockDecoder.Decode(key, pa, host, nextPage, _decoded);
        if (b is null)
        {
            // The arena is full: forget all code, as QEMU flushes its translation buffer, and
            // decode again into the emptied arena.
            InvalidateAllCode();
            b = BlockDecoder.Decode(key, pa, host, nextPage, _decoded)!;
        }
        if (b.Ops.Length == 0)
        {
            // The first instruction runs onto a page that cannot be fetched: that fetch faults.
            TranslateFetch(((la & PageMask) + GuestMemory.PageSize) & LinearMask, out _);
            throw new NotEmulatedException($"cannot decode the instruction at {la:x}");
        }
        _blocks[key] = b;
        RegisterCode(b);
        return b;
    }

    private bool SecondPageStill(ulong la, ulong page)
    {
        try { return (TranslateFetch(((la & PageMask) + GuestMemory.PageSize) & LinearMask, out _) & PageMask) == page; }
        catch (GuestException) { return false; }
    }

    private ulong TranslateFetch(ulong la, out byte* host)
    {
        ref var e = ref Slot(_tlbFetch, la);
        if (e.Tag == ((la & PageMask) | _tlbKey))
        {
            host = e.Host + (la & 0xFFF);
            return e.Physical | (la & 0xFFF);
        }
        ulong pa = Translate(la, PageAccess.Execute | (Cpl == 3 ? PageAccess.User : 0));
        byte* page = HostPage(pa & PageMask);
        if (page is null)
        {
            host = null;
            return pa;
        }
        e.Tag = (la & PageMask) | _tlbKey;
        e.Host = page;
        e.Physical = pa & PageMask;
        host = page + (pa & 0xFFF);
        return pa;
    }

    internal void ReportUnimplemented(ref DecodedInstruction d)
    {
        if (UnimplementedInstruction is not { } report) return;
        var text = new System.Text.StringBuilder();
        new IntelFormatter().Format(d.I, new StringOutput(text));
        string bytes = "";
        try
        {
            Span<byte> b = stackalloc byte[d.I.Length];
            for (int i = 0; i < b.Length; i++) b[i] = ReadSystem((SegBase[Cs] + d.Ip + (ulong)i) & LinearMask, 1) is var v ? (byte)v : (byte)0;
            bytes = Convert.ToHexString(b).ToLowerInvariant();
        }
        catch (GuestException) { }
        report($"'{text}' ({bytes}) at RIP {d.Ip:x}: not implemented by the software CPU, #UD raised");
    }

    private sealed class StringOutput(System.Text.StringBuilder sb) : FormatterOutput
    {
        public override void Write(string text, FormatterTextKind kind) => sb.Append(text);
    }
}
