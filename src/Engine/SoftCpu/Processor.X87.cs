using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The x87 FPU's state (SDM vol. 1, 8.1): eight 80-bit data registers by physical number, the
/// stack top, control and status words, which registers are empty, and the last instruction and
/// data pointers and opcode; and the MMX view of the same registers (SDM vol. 1, 9.5).
/// </summary>
public sealed unsafe partial class Processor
{
    /// <summary>The data registers R0-R7 by physical number; ST(i) is R((TOP + i) mod 8).</summary>
    internal readonly Float80[] Fpr = new Float80[8];
    /// <summary>TOP, the physical number of ST(0).</summary>
    internal int FpuTop;
    /// <summary>The control word (FCW).</summary>
    internal ushort Fcw;
    /// <summary>The status word without TOP (bits 13:11 are kept clear; <see cref="Fsw"/> adds them).</summary>
    internal ushort FswBits;
    /// <summary>The abridged tag word: bit i is set when physical register i is not empty.</summary>
    internal byte FpuTagValid;
    /// <summary>
    /// The last non-control instruction's address and its memory operand's, as FXSAVE stores
    /// them: the 64-bit offset in 64-bit mode, else the selector in bits 47:32 above the 32-bit
    /// offset (so the 32-bit formats of FSTENV/FSAVE/FXSAVE find both, and kvm_fpu keeps both).
    /// </summary>
    internal ulong Fip, Fdp;

    // The last opcode (FOP) is worked out from the instruction only when something reads it:
    // most x87 instructions run without anyone asking.
    private ushort _fop;
    private Instruction _fopInstruction;
    private bool _fopFromInstruction;

    internal const ushort FswIe = 1, FswDe = 2, FswZe = 4, FswOe = 8, FswUe = 0x10, FswPe = 0x20, FswSf = 0x40, FswEs = 0x80,
        FswC0 = 0x100, FswC1 = 0x200, FswC2 = 0x400, FswC3 = 0x4000, FswB = 0x8000;
    internal const ushort FswExceptions = 0x3F, FswConditions = FswC0 | FswC1 | FswC2 | FswC3;
    internal const int FswTopShift = 11;
    internal const ushort FswTopMask = 0x3800;

    /// <summary>The status word as FSTSW reads it, TOP included.</summary>
    internal ushort Fsw => (ushort)((FswBits & ~FswTopMask) | (FpuTop << FswTopShift));

    /// <summary>Sets the whole status word (FLDENV, FRSTOR, FXRSTOR): TOP is taken from it.</summary>
    internal void SetFsw(ushort value)
    {
        FpuTop = (value >> FswTopShift) & 7;
        FswBits = (ushort)(value & ~FswTopMask);
        UpdateErrorSummary();
    }

    /// <summary>
    /// ES (and B, which mirrors it since the 387) say whether an exception flag is set whose
    /// mask is clear: such an exception is pending and raises #MF at the next waiting x87
    /// instruction. Called after every change of the flags or the masks.
    /// </summary>
    internal void UpdateErrorSummary()
    {
        bool pending = (FswBits & ~Fcw & FswExceptions) != 0;
        FswBits = pending ? (ushort)(FswBits | FswEs | FswB) : (ushort)(FswBits & ~(FswEs | FswB));
    }

    /// <summary>Whether an unmasked x87 exception waits for the next waiting instruction.</summary>
    internal bool X87ExceptionPending => (FswBits & FswEs) != 0;

    /// <summary>The physical number of ST(<paramref name="i"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int StPhysical(int i) => (FpuTop + i) & 7;

    /// <summary>ST(<paramref name="i"/>), by reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref Float80 St(int i) => ref Fpr[(FpuTop + i) & 7];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool StEmpty(int i) => (FpuTagValid & (1 << ((FpuTop + i) & 7))) == 0;

    /// <summary>The last opcode: the 11 bits of the first opcode byte (its low 3) and the ModR/M byte.</summary>
    internal ushort Fop
    {
        get
        {
            if (_fopFromInstruction)
            {
                _fop = X87Opcode.Of(in _fopInstruction);
                _fopFromInstruction = false;
            }
            return _fop;
        }
        set
        {
            _fop = (ushort)(value & 0x7FF);
            _fopFromInstruction = false;
        }
    }

    /// <summary>
    /// Records a non-control x87 instruction as the last one (FIP, FOP, and FDP when it has a
    /// memory operand), as the FPU does for every such instruction it starts, even one that then
    /// raises an unmasked exception: the exception handler finds it there.
    /// </summary>
    internal void RecordX87Instruction(ref Decoding.DecodedInstruction d, bool hasMemoryOperand)
    {
        Fip = Long64 ? d.Ip : (ulong)Seg[Cs].Selector << 32 | (uint)d.Ip;
        if (hasMemoryOperand)
        {
            ulong ea = EffectiveAddress(ref d);
            Fdp = Long64 ? ea : (ulong)Seg[d.Segment].Selector << 32 | (uint)ea;
        }
        _fopInstruction = d.I;
        _fopFromInstruction = true;
    }

    /// <summary>
    /// The checks every x87 instruction makes before it does anything (SDM vol. 1, 8.7 and the
    /// instructions' protected-mode exceptions): #NM when CR0.EM or CR0.TS is set; then, for the
    /// waiting instructions (all but FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE), #MF when
    /// an unmasked exception is pending and CR0.NE selects native error reporting.
    /// </summary>
    /// <remarks>
    /// With CR0.NE clear a real system signals FERR# to the interrupt controller (IRQ 13), which
    /// this processor is not wired to: the exception stays pending and execution goes on.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckX87(bool waiting)
    {
        if ((Cr0 & (Cr0Em | Cr0Ts)) != 0) throw DeviceNotAvailable();
        if (waiting && (FswBits & FswEs) != 0 && (Cr0 & Cr0Ne) != 0) throw FloatingPointError();
    }

    /// <summary>WAIT/FWAIT: #NM only when both CR0.MP and CR0.TS are set; then a pending exception raises #MF.</summary>
    internal void CheckWait()
    {
        if ((Cr0 & (Cr0Mp | Cr0Ts)) == (Cr0Mp | Cr0Ts)) throw DeviceNotAvailable();
        if ((FswBits & FswEs) != 0 && (Cr0 & Cr0Ne) != 0) throw FloatingPointError();
    }

    /// <summary>
    /// The checks of an MMX instruction (SDM vol. 2, "Exceptions" of the MMX instructions):
    /// #UD when CR0.EM is set, #NM when CR0.TS is set, #MF when an x87 exception is pending.
    /// </summary>
    internal void CheckMmx()
    {
        if ((Cr0 & Cr0Em) != 0) throw Ud();
        if ((Cr0 & Cr0Ts) != 0) throw DeviceNotAvailable();
        if ((FswBits & FswEs) != 0 && (Cr0 & Cr0Ne) != 0) throw FloatingPointError();
    }

    internal const byte DeviceNotAvailableVector = 7, FloatingPointErrorVector = 16;

    internal static GuestException DeviceNotAvailable() => new(DeviceNotAvailableVector, null);

    internal static GuestException FloatingPointError() => new(FloatingPointErrorVector, null);

    /// <summary>MMX register <paramref name="i"/>: the significand of physical register R<paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadMmx(int i) => Fpr[i].Significand;

    /// <summary>
    /// Writes MMX register <paramref name="i"/>: the significand of R<paramref name="i"/>, with
    /// sign and exponent all ones (a NaN to x87 code), and enters MMX state (<see cref="EnterMmx"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteMmx(int i, ulong value)
    {
        Fpr[i] = new Float80(0xFFFF, value);
        EnterMmx();
    }

    /// <summary>What every MMX instruction but EMMS does to the x87 state, even one that only reads: TOP = 0, all registers valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void EnterMmx()
    {
        FpuTop = 0;
        FpuTagValid = 0xFF;
    }

    /// <summary>EMMS: every register empty.</summary>
    internal void Emms() => FpuTagValid = 0;

    /// <summary>FNINIT's state: FCW 037F (all masked, 64-bit precision, to nearest), FSW 0, all empty, pointers and opcode 0.</summary>
    internal void InitX87()
    {
        Fcw = 0x037F;
        FswBits = 0;
        FpuTop = 0;
        FpuTagValid = 0;
        Fip = Fdp = 0;
        Fop = 0;
    }

    /// <summary>
    /// The 2-bit tag of physical register <paramref name="physical"/> as FSTENV/FSAVE report it,
    /// worked out from its contents (SDM vol. 1, 8.1.7): 0 valid, 1 zero, 2 special (NaN,
    /// infinity, denormal, unsupported), 3 empty.
    /// </summary>
    internal int FullTag(int physical)
    {
        if ((FpuTagValid & (1 << physical)) == 0) return 3;
        var v = Fpr[physical];
        if (v.IsZero) return 1;
        if (v.Exponent == Float80.MaxExponent || v.Exponent == 0 || (v.Significand & Float80.IntegerBit) == 0) return 2;
        return 0;
    }

    /// <summary>The full tag word (FSTENV, FSAVE).</summary>
    internal ushort FullTagWord()
    {
        int tags = 0;
        for (int i = 0; i < 8; i++) tags |= FullTag(i) << (2 * i);
        return (ushort)tags;
    }

    /// <summary>Takes a full tag word (FLDENV, FRSTOR): only empty or not counts; the rest is worked out from the registers when read.</summary>
    internal void SetFullTagWord(ushort tags)
    {
        int valid = 0;
        for (int i = 0; i < 8; i++)
            if (((tags >> (2 * i)) & 3) != 3) valid |= 1 << i;
        FpuTagValid = (byte)valid;
    }

    /// <summary>
    /// XMM0..<paramref name="count"/>-1 into <paramref name="xmm"/> (16 bytes each) and MXCSR, for
    /// FXSAVE: taken from the SSE unit through its save hook (from <see cref="Fpu"/> where there is none).
    /// </summary>
    internal uint ReadSseState(Span<byte> xmm, int count)
    {
        var f = Fpu;
        SaveSse(ref f);
        new ReadOnlySpan<byte>(f.Xmm, 16 * count).CopyTo(xmm);
        return f.Mxcsr;
    }

    /// <summary>FXRSTOR's XMM0..<paramref name="count"/>-1 and MXCSR, given to the SSE unit through its load hook; the other XMM registers keep their values.</summary>
    internal void WriteSseState(ReadOnlySpan<byte> xmm, int count, uint mxcsr)
    {
        var f = Fpu;
        SaveSse(ref f);
        xmm[..(16 * count)].CopyTo(new Span<byte>(f.Xmm, 16 * count));
        f.Mxcsr = mxcsr;
        // Fpu holds them too where no SSE unit keeps its own registers.
        fixed (byte* kept = Fpu.Xmm) xmm[..(16 * count)].CopyTo(new Span<byte>(kept, 16 * count));
        Fpu.Mxcsr = mxcsr;
        LoadSse(in f);
    }

    /// <summary>kvm_fpu (like FXSAVE) has the registers in stack order, ST(0) first, and the abridged tags by physical number.</summary>
    partial void SaveX87(ref FpuRegisters fpu)
    {
        fixed (byte* fpr = fpu.Fpr)
        {
            var image = new Span<byte>(fpr, 128);
            image.Clear();
            for (int i = 0; i < 8; i++) St(i).WriteBytes(image.Slice(16 * i, 10));
        }
        fpu.Fcw = Fcw;
        fpu.Fsw = Fsw;
        fpu.Ftwx = FpuTagValid;
        fpu.LastOpcode = Fop;
        fpu.LastIp = Fip;
        fpu.LastDp = Fdp;
    }

    partial void LoadX87(in FpuRegisters fpu)
    {
        Fcw = fpu.Fcw;
        SetFsw(fpu.Fsw);
        fixed (byte* fpr = fpu.Fpr)
        {
            var image = new ReadOnlySpan<byte>(fpr, 128);
            for (int i = 0; i < 8; i++) St(i) = Float80.FromBytes(image.Slice(16 * i, 10));
        }
        FpuTagValid = fpu.Ftwx;
        Fop = fpu.LastOpcode;
        Fip = fpu.LastIp;
        Fdp = fpu.LastDp;
    }
}
