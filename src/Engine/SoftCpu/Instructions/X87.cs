using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The x87 FPU instructions of a P6-class processor (SDM vol. 1, chapter 8; vol. 2), one family
/// per file in <c>Instructions/X87/</c>: loads and stores, arithmetic, comparisons, control and
/// state images, transcendentals. This file registers them and holds what they share: the
/// register stack's overflow and underflow, and how a result and its exceptions reach the
/// registers and the status word. The arithmetic itself is <see cref="Float80Arithmetic"/>.
/// </summary>
/// <remarks>
/// Every instruction first checks CR0.EM/TS (#NM) and, if it is a waiting one, a pending unmasked
/// exception (#MF); then reads its operands (which may fault); only then changes anything. An
/// instruction whose invalid-operation, denormal or divide-by-zero exception is unmasked changes
/// no register, no memory and not TOP: it sets the flag and ES, and the next waiting instruction
/// raises #MF.
/// </remarks>
internal static unsafe partial class X87
{
    public static void Register(HandlerTable t)
    {
        RegisterLoadStore(t);
        RegisterArithmetic(t);
        RegisterComparisons(t);
        RegisterControl(t);
        RegisterStateImages(t);
        RegisterTranscendentals(t);
    }

    /// <summary>The ST register number of operand <paramref name="n"/> (a register operand).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int StOperand(ref DecodedInstruction d, int n) => d.I.GetOpRegister(n) - Iced.Intel.Register.ST0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FloatContext Context(Processor c) => FloatContext.FromControlWord(c.Fcw);

    /// <summary>Sets C1 (the round-up bit after arithmetic, the overflow/underflow kind after a stack fault).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetC1(Processor c, bool value) =>
        c.FswBits = value ? (ushort)(c.FswBits | Processor.FswC1) : (ushort)(c.FswBits & ~Processor.FswC1);

    /// <summary>Sets C3 C2 C1 C0 to <paramref name="conditions"/> (bits in their status-word positions).</summary>
    private static void SetConditions(Processor c, ushort conditions) =>
        c.FswBits = (ushort)((c.FswBits & ~Processor.FswConditions) | (conditions & Processor.FswConditions));

    /// <summary>Reads ST(<paramref name="i"/>), or notes a stack underflow (invalid operation with SF) when it is empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float80 ReadSt(Processor c, ref FloatContext ctx, int i)
    {
        if (c.StEmpty(i))
        {
            ctx.Raise(X87Exceptions.Invalid | X87Exceptions.StackFault);
            return Float80.Indefinite;
        }
        return c.St(i);
    }

    /// <summary>Whether the operation ran into an empty register (stack underflow).</summary>
    private static bool Underflowed(in FloatContext ctx) => (ctx.Raised & X87Exceptions.StackFault) != 0;

    /// <summary>
    /// Ends an instruction that writes <paramref name="result"/> to ST(<paramref name="destination"/>)
    /// and maybe pops: the exception flags go into the status word (sticky), C1 becomes the
    /// round-up bit (0 after a stack underflow), and unless an unmasked pre-computation
    /// exception stopped it, the result is written and the stack popped.
    /// </summary>
    private static void Complete(Processor c, ref FloatContext ctx, int destination, Float80 result, bool pop)
    {
        if (ctx.PreComputationFault)
        {
            Flags(c, ctx.Raised & (X87Exceptions.PreComputation | X87Exceptions.StackFault), roundedUp: false);
            return;
        }
        int physical = c.StPhysical(destination);
        c.Fpr[physical] = result;
        c.FpuTagValid |= (byte)(1 << physical);
        Flags(c, ctx.Raised, ctx.RoundedUp && (ctx.Raised & X87Exceptions.Precision) != 0);
        if (pop) Pop(c);
    }

    /// <summary>Adds <paramref name="raised"/> to the status word's flags, sets C1, and updates ES.</summary>
    private static void Flags(Processor c, X87Exceptions raised, bool roundedUp)
    {
        c.FswBits |= (ushort)raised;
        SetC1(c, roundedUp);
        c.UpdateErrorSummary();
    }

    /// <summary>Marks ST(0) empty and increments TOP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pop(Processor c)
    {
        c.FpuTagValid &= (byte)~(1 << c.FpuTop);
        c.FpuTop = (c.FpuTop + 1) & 7;
    }

    /// <summary>
    /// Whether pushing would overflow the stack (the register below ST(0) is not empty). If so,
    /// raises invalid operation with SF and C1 = 1, and for a masked exception pushes the indefinite.
    /// </summary>
    private static bool PushOverflows(Processor c)
    {
        if (c.StEmpty(-1)) return false;
        c.FswBits |= Processor.FswIe | Processor.FswSf;
        SetC1(c, true);
        if ((c.Fcw & Processor.FswIe) != 0) PushValue(c, Float80.Indefinite);
        c.UpdateErrorSummary();
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PushValue(Processor c, Float80 value)
    {
        c.FpuTop = (c.FpuTop - 1) & 7;
        c.Fpr[c.FpuTop] = value;
        c.FpuTagValid |= (byte)(1 << c.FpuTop);
    }

    /// <summary>Ends a load (the stack is known not to overflow): pushes <paramref name="value"/> unless an unmasked exception stopped it.</summary>
    private static void CompletePush(Processor c, ref FloatContext ctx, Float80 value)
    {
        if (ctx.PreComputationFault)
        {
            Flags(c, ctx.Raised & (X87Exceptions.PreComputation | X87Exceptions.StackFault), roundedUp: false);
            return;
        }
        PushValue(c, value);
        Flags(c, ctx.Raised, roundedUp: false);
    }

    /// <summary>
    /// Whether a store to memory may write: not when an invalid-operation exception is unmasked,
    /// nor an overflow or underflow one (SDM vol. 1, 8.5.4/8.5.5: a memory destination keeps its
    /// contents and TOP is not changed).
    /// </summary>
    private static bool MayStore(in FloatContext ctx) =>
        (ctx.Raised & ~ctx.Masks & (X87Exceptions.PreComputation | X87Exceptions.Overflow | X87Exceptions.Underflow)) == 0;

    /// <summary>Ends a store to memory that wrote (or, <paramref name="stored"/> false, did not) and maybe pops.</summary>
    private static void CompleteStore(Processor c, ref FloatContext ctx, bool stored, bool pop)
    {
        var raised = ctx.Raised;
        if (!stored && (raised & ~ctx.Masks & X87Exceptions.PreComputation) != 0)
            raised &= X87Exceptions.PreComputation | X87Exceptions.StackFault;
        Flags(c, raised, ctx.RoundedUp && (raised & X87Exceptions.Precision) != 0);
        if (stored && pop) Pop(c);
    }

    /// <summary>Every form of <paramref name="mnemonic"/>.</summary>
    private static ReadOnlySpan<Code> Forms(Mnemonic mnemonic)
    {
        var (forms, start) = FormsByMnemonic;
        int m = (int)mnemonic;
        return m + 1 < start.Length ? forms.AsSpan(start[m], start[m + 1] - start[m]) : [];
    }

    // Every form grouped by mnemonic, found in one pass over every form, not in a pass for each
    // mnemonic asked for; in one array (a counting sort), not a list for each of the 1,800
    // mnemonics, which made 250 KB for the collector at every start.
    private static readonly (Code[] Forms, int[] Start) FormsByMnemonic = GroupFormsByMnemonic();

    private static (Code[] Forms, int[] Start) GroupFormsByMnemonic()
    {
        var codes = HandlerTable.AllCodes;
        int mnemonics = 0;
        foreach (var code in codes) mnemonics = Math.Max(mnemonics, (int)code.Mnemonic() + 1);
        var start = new int[mnemonics + 1];
        foreach (var code in codes) start[(int)code.Mnemonic() + 1]++;
        for (int m = 0; m < mnemonics; m++) start[m + 1] += start[m];
        var forms = new Code[codes.Length];
        var next = start[..mnemonics];
        foreach (var code in codes) forms[next[(int)code.Mnemonic()]++] = code;
        return (forms, start);
    }
}
