using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// MOVS, STOS, LODS, CMPS and SCAS in every element size, with REP (F3, or F2, which MOVS, STOS
/// and LODS take as REP too), REPE and REPNE, DF, 16/32/64-bit address sizes (rSI, rDI and rCX
/// of the address size) and a segment override on the source (the destination is always ES).
/// A REP instruction runs up to <see cref="Processor.RepeatBudget"/> iterations per call (fewer
/// under TF, which traps after each, and at most <see cref="IterationsPerCall"/> so the run loop
/// sees kicks and interrupt windows during a long one), each retiring as one instruction, and
/// stays at its own address while the count lasts. A fault leaves the registers at the
/// faulting iteration; the iterations before it have retired.
/// </summary>
internal static unsafe class StringInstructions
{
    /// <summary>The most iterations one call runs before handing back to the run loop.</summary>
    public const long IterationsPerCall = 1 << 16;

    public static void Register(HandlerTable t)
    {
        Add(t, [Code.Movsb_m8_m8, Code.Movsw_m16_m16, Code.Movsd_m32_m32, Code.Movsq_m64_m64],
            &Execute<Movs, Byte>, &Execute<Movs, Word>, &Execute<Movs, Dword>, &Execute<Movs, Qword>);
        Add(t, [Code.Stosb_m8_AL, Code.Stosw_m16_AX, Code.Stosd_m32_EAX, Code.Stosq_m64_RAX],
            &Execute<Stos, Byte>, &Execute<Stos, Word>, &Execute<Stos, Dword>, &Execute<Stos, Qword>);
        Add(t, [Code.Lodsb_AL_m8, Code.Lodsw_AX_m16, Code.Lodsd_EAX_m32, Code.Lodsq_RAX_m64],
            &Execute<Lods, Byte>, &Execute<Lods, Word>, &Execute<Lods, Dword>, &Execute<Lods, Qword>);
        Add(t, [Code.Cmpsb_m8_m8, Code.Cmpsw_m16_m16, Code.Cmpsd_m32_m32, Code.Cmpsq_m64_m64],
            &Execute<Cmps, Byte>, &Execute<Cmps, Word>, &Execute<Cmps, Dword>, &Execute<Cmps, Qword>);
        Add(t, [Code.Scasb_AL_m8, Code.Scasw_AX_m16, Code.Scasd_EAX_m32, Code.Scasq_RAX_m64],
            &Execute<Scas, Byte>, &Execute<Scas, Word>, &Execute<Scas, Dword>, &Execute<Scas, Qword>);
    }

    private static void Add(HandlerTable t, Code[] codes,
        delegate*<Processor, ref DecodedInstruction, bool> b, delegate*<Processor, ref DecodedInstruction, bool> w,
        delegate*<Processor, ref DecodedInstruction, bool> dw, delegate*<Processor, ref DecodedInstruction, bool> q)
    {
        t.Add(codes[0], b, alone: true);
        t.Add(codes[1], w, alone: true);
        t.Add(codes[2], dw, alone: true);
        t.Add(codes[3], q, alone: true);
    }

    private interface IElementSize { static abstract int Size { get; } }
    private struct Byte : IElementSize { public static int Size => 1; }
    private struct Word : IElementSize { public static int Size => 2; }
    private struct Dword : IElementSize { public static int Size => 4; }
    private struct Qword : IElementSize { public static int Size => 8; }

    /// <summary>One iteration of a string instruction, on the linear addresses of its source (seg:rSI) and destination (ES:rDI).</summary>
    private interface IStringOp
    {
        static abstract bool UsesSource { get; }
        static abstract bool UsesDestination { get; }
        /// <summary>CMPS and SCAS: REPE/REPNE also stop on ZF.</summary>
        static abstract bool Compares { get; }
        static abstract void Step(Processor c, ulong source, ulong destination, int size);
    }

    private struct Movs : IStringOp
    {
        public static bool UsesSource => true;
        public static bool UsesDestination => true;
        public static bool Compares => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Step(Processor c, ulong source, ulong destination, int size) => c.Write(destination, size, c.Read(source, size));
    }

    private struct Stos : IStringOp
    {
        public static bool UsesSource => false;
        public static bool UsesDestination => true;
        public static bool Compares => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Step(Processor c, ulong source, ulong destination, int size) => c.Write(destination, size, c.R(Processor.Rax));
    }

    private struct Lods : IStringOp
    {
        public static bool UsesSource => true;
        public static bool UsesDestination => false;
        public static bool Compares => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Step(Processor c, ulong source, ulong destination, int size) => c.WriteReg(Processor.Rax, size, c.Read(source, size));
    }

    private struct Cmps : IStringOp
    {
        public static bool UsesSource => true;
        public static bool UsesDestination => true;
        public static bool Compares => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Step(Processor c, ulong source, ulong destination, int size)
        {
            // [rSI] - [rDI], as CMP with the source first.
            ulong a = c.Read(source, size);
            ulong b = c.Read(destination, size);
            c.SetLazy(FlagOp.Sub, a, b, a - b, size * 8);
        }
    }

    private struct Scas : IStringOp
    {
        public static bool UsesSource => false;
        public static bool UsesDestination => true;
        public static bool Compares => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Step(Processor c, ulong source, ulong destination, int size)
        {
            ulong a = c.ReadReg(Processor.Rax, size);
            ulong b = c.Read(destination, size);
            c.SetLazy(FlagOp.Sub, a, b, a - b, size * 8);
        }
    }

    // The source's segment: DS unless overridden (Iced's decoding gives string operands no precomputed segment).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SourceSegment(ref DecodedInstruction d) =>
        d.I.SegmentPrefix == Iced.Intel.Register.None ? Processor.Ds : d.I.SegmentPrefix - Iced.Intel.Register.ES;

    /// <summary>Writes <paramref name="value"/> into the low address-size bits of <paramref name="reg"/> (a 32-bit address size clears bits 63:32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetAddressRegister(Processor c, int reg, ulong mask, ulong value)
    {
        if (mask == 0xFFFF) c.R(reg) = (c.R(reg) & ~0xFFFFUL) | (value & 0xFFFF);
        else c.R(reg) = value & mask;
    }

    private static bool Execute<TOp, TSize>(Processor c, ref DecodedInstruction d)
        where TOp : struct, IStringOp where TSize : struct, IElementSize
    {
        int size = TSize.Size;
        ulong mask = d.AddressMask;
        int segment = TOp.UsesSource ? SourceSegment(ref d) : Processor.Ds;
        ulong step = c.Df ? (ulong)-size : (ulong)size;
        if (!d.I.HasRepPrefix && !d.I.HasRepnePrefix)
        {
            ulong si = c.R(Processor.Rsi), di = c.R(Processor.Rdi);
            TOp.Step(c, c.Linear(segment, si & mask), c.Linear(Processor.Es, di & mask), size);
            if (TOp.UsesSource) SetAddressRegister(c, Processor.Rsi, mask, si + step);
            if (TOp.UsesDestination) SetAddressRegister(c, Processor.Rdi, mask, di + step);
            return true;
        }

        ulong count = c.R(Processor.Rcx) & mask;
        if (count == 0) return true;
        long limit = Math.Clamp(c.RepeatBudget, 1, IterationsPerCall);
        if ((c.GetRflags() & Processor.FlagTf) != 0) limit = 1;
        // REPNE (F2) ends CMPS/SCAS on equality, REPE (F3) on inequality.
        bool untilEqual = TOp.Compares && d.I.HasRepnePrefix;
        long done = 0;
        bool completed = false;
        try
        {
            while (true)
            {
                ulong si = c.R(Processor.Rsi), di = c.R(Processor.Rdi);
                TOp.Step(c, c.Linear(segment, si & mask), c.Linear(Processor.Es, di & mask), size);
                if (TOp.UsesSource) SetAddressRegister(c, Processor.Rsi, mask, si + step);
                if (TOp.UsesDestination) SetAddressRegister(c, Processor.Rdi, mask, di + step);
                SetAddressRegister(c, Processor.Rcx, mask, --count);
                done++;
                if (count == 0 || (TOp.Compares && c.Zf == untilEqual))
                {
                    completed = true;
                    // Where a KVM recording's point may lie with the count run out and RIP not
                    // yet moved on, stay there once; executed again with a count of 0, the
                    // instruction moves on (and retires once more).
                    if (count == 0 && c.ExhaustedRepeatStaysAt is { } stay && stay == ((c.SegBase[Processor.Cs] + d.Ip) & c.LinearMask)) break;
                    return true;
                }
                // An iteration that hit a watchpoint or rewrote decoded code ends the call: the run
                // loop must see it at this iteration's boundary.
                if (done == limit || c.StopAfterInstruction) break;
            }
            completed = true;
        }
        finally
        {
            // The run loop counts one instruction for a call that returns, none for one that faults.
            c.RetireExtra(completed ? done - 1 : done);
        }
        c.Rip = d.Ip;
        return false;
    }
}
