using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The control instructions: FINIT/FNINIT, FCLEX/FNCLEX, FSTSW/FNSTSW (AX, m16), FSTCW/FNSTCW,
/// FLDCW, FSTENV/FNSTENV, FLDENV, FSAVE/FNSAVE, FRSTOR (14/28- and 94/108-byte images, real or
/// protected layout: SDM vol. 1, 8.1.10 and figures 8-9 to 8-12), WAIT/FWAIT; and FNOP, FINCSTP,
/// FDECSTP, and FENI/FDISI/FSETPM, which a P6 executes as FNOP. The waiting forms Iced decodes as
/// one instruction (9B prefix) make WAIT's checks first. Control instructions leave the last
/// instruction pointers alone.
/// </summary>
internal static unsafe partial class X87
{
    private static void RegisterControl(HandlerTable t)
    {
        t.Add([Code.Fninit, Code.Finit], &Finit);
        t.Add([Code.Fnclex, Code.Fclex], &Fclex);
        t.Add([Code.Fnstsw_AX, Code.Fstsw_AX, Code.Fnstsw_m2byte, Code.Fstsw_m2byte], &Fstsw);
        t.Add([Code.Fnstcw_m2byte, Code.Fstcw_m2byte], &Fstcw);
        t.Add(Code.Fldcw_m2byte, &Fldcw);
        t.Add([Code.Fnstenv_m14byte, Code.Fstenv_m14byte, Code.Fnstenv_m28byte, Code.Fstenv_m28byte], &Fstenv);
        t.Add([Code.Fldenv_m14byte, Code.Fldenv_m28byte], &Fldenv);
        t.Add([Code.Fnsave_m94byte, Code.Fsave_m94byte, Code.Fnsave_m108byte, Code.Fsave_m108byte], &Fsave);
        t.Add([Code.Frstor_m94byte, Code.Frstor_m108byte], &Frstor);
        t.Add(Code.Wait, &Fwait);
        t.Add([Code.Fnop, Code.Fneni, Code.Feni, Code.Fndisi, Code.Fdisi, Code.Fnsetpm, Code.Fsetpm], &Fnop);
        t.Add([Code.Fincstp, Code.Fdecstp], &Fincstp);
    }

    /// <summary>
    /// The checks of a control instruction: the 9B-prefixed forms are WAIT (#NM with CR0.MP and
    /// TS, pending #MF) followed by the no-wait form (#NM with CR0.EM or TS).
    /// </summary>
    private static void CheckControl(Processor c, ref DecodedInstruction d, bool alwaysWaits = false)
    {
        bool waiting = alwaysWaits || d.I.Code is Code.Finit or Code.Fclex or Code.Fstsw_AX or Code.Fstsw_m2byte or Code.Fstcw_m2byte
            or Code.Fstenv_m14byte or Code.Fstenv_m28byte or Code.Fsave_m94byte or Code.Fsave_m108byte
            or Code.Feni or Code.Fdisi or Code.Fsetpm;
        if (waiting && !alwaysWaits) c.CheckWait();
        c.CheckX87(waiting: alwaysWaits);
    }

    private static bool Finit(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        c.InitX87();
        return true;
    }

    /// <summary>FCLEX: the exception flags, SF, ES and B cleared; the condition codes stay.</summary>
    private static bool Fclex(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        c.FswBits &= unchecked((ushort)~(Processor.FswExceptions | Processor.FswSf | Processor.FswEs | Processor.FswB));
        return true;
    }

    private static bool Fstsw(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        if (d.Kind0 == OperandKind.Memory) c.Write16(c.LinearAddress(ref d), c.Fsw);
        else c.WriteReg(Processor.Rax, 2, c.Fsw);
        return true;
    }

    private static bool Fstcw(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        c.Write16(c.LinearAddress(ref d), c.Fcw);
        return true;
    }

    /// <summary>The control word bits a P6 keeps; bit 6 always reads as 1.</summary>
    private const ushort FcwWritable = 0x1F3F, FcwAlwaysSet = 0x0040;

    private static bool Fldcw(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d, alwaysWaits: true);
        ushort value = c.Read16(c.LinearAddress(ref d));
        c.Fcw = (ushort)((value & FcwWritable) | FcwAlwaysSet);
        c.UpdateErrorSummary();
        return true;
    }

    private static bool Fwait(Processor c, ref DecodedInstruction d)
    {
        c.CheckWait();
        return true;
    }

    private static bool Fnop(Processor c, ref DecodedInstruction d)
    {
        if (d.I.Code is Code.Feni or Code.Fdisi or Code.Fsetpm) c.CheckWait();
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        return true;
    }

    /// <summary>FINCSTP/FDECSTP: TOP moves, no tag changes (not a push or pop); C1 cleared.</summary>
    private static bool Fincstp(Processor c, ref DecodedInstruction d)
    {
        c.CheckX87(waiting: true);
        c.RecordX87Instruction(ref d, hasMemoryOperand: false);
        c.FpuTop = (c.FpuTop + (d.I.Mnemonic == Mnemonic.Fincstp ? 1 : -1)) & 7;
        SetC1(c, false);
        return true;
    }

    /// <summary>Whether the environment has the real-mode layout (real mode and virtual-8086 mode).</summary>
    private static bool RealModeLayout(Processor c) => (c.Cr0 & Processor.Cr0Pe) == 0 || (c.GetRflags() & Processor.FlagVm) != 0;

    /// <summary>FSTENV: writes the environment, then masks every exception.</summary>
    private static bool Fstenv(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        bool wide = d.I.MemorySize == MemorySize.FpuEnv28;
        Span<byte> image = stackalloc byte[28];
        int length = X87Environment.Write(c, image, wide, RealModeLayout(c));
        c.WriteBytes(c.LinearAddress(ref d), image[..length]);
        c.Fcw |= Processor.FswExceptions;
        c.UpdateErrorSummary();
        return true;
    }

    private static bool Fldenv(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d, alwaysWaits: true);
        bool wide = d.I.MemorySize == MemorySize.FpuEnv28;
        Span<byte> image = stackalloc byte[28];
        int length = wide ? 28 : 14;
        c.ReadBytes(c.LinearAddress(ref d), image[..length]);
        X87Environment.Read(c, image, wide, RealModeLayout(c));
        return true;
    }

    /// <summary>FSAVE: the environment and ST(0)-ST(7) (10 bytes each, stack order), then FNINIT.</summary>
    private static bool Fsave(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d);
        bool wide = d.I.MemorySize == MemorySize.FpuState108;
        Span<byte> image = stackalloc byte[108];
        int length = X87Environment.Write(c, image, wide, RealModeLayout(c));
        for (int i = 0; i < 8; i++) c.St(i).WriteBytes(image.Slice(length + 10 * i, 10));
        c.WriteBytes(c.LinearAddress(ref d), image[..(length + 80)]);
        c.InitX87();
        return true;
    }

    private static bool Frstor(Processor c, ref DecodedInstruction d)
    {
        CheckControl(c, ref d, alwaysWaits: true);
        bool wide = d.I.MemorySize == MemorySize.FpuState108;
        int length = wide ? 28 : 14;
        Span<byte> image = stackalloc byte[108];
        c.ReadBytes(c.LinearAddress(ref d), image[..(length + 80)]);
        X87Environment.Read(c, image, wide, RealModeLayout(c));
        for (int i = 0; i < 8; i++) c.St(i) = Float80.FromBytes(image.Slice(length + 10 * i, 10));
        return true;
    }
}
