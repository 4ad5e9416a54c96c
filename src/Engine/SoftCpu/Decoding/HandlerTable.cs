using Iced.Intel;
using VmReplay.Engine.SoftCpu.Instructions;

namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>
/// The handler of every instruction form the software CPU implements, by Iced <see cref="Code"/>.
/// Each instruction family registers its forms from its own file; a form nobody registered
/// raises #UD, as a processor without it would (<see cref="Unimplemented"/>).
/// </summary>
internal sealed unsafe class HandlerTable
{
    private readonly delegate*<Processor, ref DecodedInstruction, bool>[] _handlers;
    private readonly bool[] _endsBlock;
    private readonly bool[] _alone;


    private HandlerTable()
    {
        int n = s_allCodes.Length;
        _handlers = new delegate*<Processor, ref DecodedInstruction, bool>[n];
        _endsBlock = new bool[n];
        _alone = new bool[n];
    }

    private static HandlerTable Build()
    {
        var t = new HandlerTable();
        foreach (var register in Families) register(t);
        return t;
    }

    /// <summary>
    /// Every form Iced knows, for the families' passes over them: one array, not one for each
    /// family that asks (the enum's values were copied 11 times, 19 KB each, at every start).
    /// </summary>
    internal static ReadOnlySpan<Code> AllCodes => s_allCodes;

    // Before Instance: static fields initialise in text order.
    private static readonly Code[] s_allCodes = Enum.GetValues<Code>();

    // One entry per instruction family file in Instructions/.
    private static readonly Action<HandlerTable>[] Families =
    [
        DataTransfer.Register,
        Arithmetic.Register,
        ControlFlow.Register,
        FlagInstructions.Register,
        PortIo.Register,
        SystemInstructions.Register,
        ShiftRotate.Register,
        MultiplyDivide.Register,
        BitInstructions.Register,
        StringInstructions.Register,
        AtomicExchange.Register,
        DecimalArithmetic.Register,
        X87.Register,
        Sse.Register,
        Mmx.Register,
        FastSystemCalls.Register,
        Protection.Register,
    ];

    // After Families: static fields initialise in text order.
    public static HandlerTable Instance { get; } = Build();

    /// <summary>
    /// Registers <paramref name="handler"/> for <paramref name="code"/>. <paramref name="endsBlock"/>
    /// makes the decoder end the block after it (the handler changes how code is fetched or
    /// must be followed by a check of the run loop). <paramref name="alone"/> puts it in a block
    /// of its own, where <see cref="Processor.RepeatBudget"/> is exact: a REP string instruction
    /// runs many iterations in one call and retires each as one instruction.
    /// </summary>
    public void Add(Code code, delegate*<Processor, ref DecodedInstruction, bool> handler, bool endsBlock = false, bool alone = false)
    {
        if (_handlers[(int)code] != null) throw new InvalidOperationException($"two handlers for {code}");
        _handlers[(int)code] = handler;
        _endsBlock[(int)code] = endsBlock || alone;
        _alone[(int)code] = alone;
    }

    /// <summary>Registers <paramref name="handler"/> for each of <paramref name="codes"/>.</summary>
    public void Add(ReadOnlySpan<Code> codes, delegate*<Processor, ref DecodedInstruction, bool> handler, bool endsBlock = false, bool alone = false)
    {
        foreach (var c in codes) Add(c, handler, endsBlock, alone);
    }

    public bool IsAlone(Code code) => _alone[(int)code];

    public bool IsImplemented(Code code) => _handlers[(int)code] != null;

    public delegate*<Processor, ref DecodedInstruction, bool> HandlerOf(Code code) =>
        _handlers[(int)code] != null ? _handlers[(int)code] : &Unimplemented;

    public bool EndsBlock(Code code) => _endsBlock[(int)code];

    /// <summary>Every form registered so far (for coverage reports and tests).</summary>
    public IEnumerable<Code> Implemented() => s_allCodes.Where(IsImplemented);

    // An instruction this processor does not implement: #UD, as on a processor without it. The
    // VMM hears of it (--trace-exits names it), since a guest seldom expects it.
    private static bool Unimplemented(Processor cpu, ref DecodedInstruction d)
    {
        cpu.ReportUnimplemented(ref d);
        throw Processor.Ud();
    }
}
