using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// CLC, STC, CMC, CLD, STD, CLI, STI, PUSHF/POPF (all sizes), LAHF, SAHF, with the privilege
/// rules of the SDM for IF, IOPL and the system flags (protected mode; virtual-8086 mode is not modelled).
/// </summary>
internal static unsafe class FlagInstructions
{
    public static void Register(HandlerTable t)
    {
        t.Add(Code.Clc, &Clc);
        t.Add(Code.Stc, &Stc);
        t.Add(Code.Cmc, &Cmc);
        t.Add(Code.Cld, &Cld);
        t.Add(Code.Std, &Std);
        t.Add(Code.Cli, &Cli);
        // STI opens the interrupt window only after the next instruction: the block ends so the
        // run loop can honour the shadow.
        t.Add(Code.Sti, &Sti, endsBlock: true);
        t.Add([Code.Pushfw, Code.Pushfd, Code.Pushfq], &Pushf);
        t.Add([Code.Popfw, Code.Popfd, Code.Popfq], &Popf, endsBlock: true);
        t.Add(Code.Lahf, &Lahf);
        t.Add(Code.Sahf, &Sahf);
    }

    private static bool Clc(Processor c, ref DecodedInstruction d) { c.SetFlagsMasked(Processor.FlagCf, 0); return true; }
    private static bool Stc(Processor c, ref DecodedInstruction d) { c.SetFlagsMasked(Processor.FlagCf, Processor.FlagCf); return true; }
    private static bool Cmc(Processor c, ref DecodedInstruction d) { c.SetFlagsMasked(Processor.FlagCf, c.Cf ? 0 : Processor.FlagCf); return true; }
    private static bool Cld(Processor c, ref DecodedInstruction d) { c.SetFlagsMasked(Processor.FlagDf, 0); return true; }
    private static bool Std(Processor c, ref DecodedInstruction d) { c.SetFlagsMasked(Processor.FlagDf, Processor.FlagDf); return true; }

    private static int Iopl(Processor c) => (int)((c.GetRflags() & Processor.FlagIopl) >> 12);

    private static bool Cli(Processor c, ref DecodedInstruction d)
    {
        if ((c.Cr0 & Processor.Cr0Pe) != 0 && c.Cpl > Iopl(c)) throw Processor.Gp();
        c.SetFlagsMasked(Processor.FlagIf, 0);
        return true;
    }

    private static bool Sti(Processor c, ref DecodedInstruction d)
    {
        if ((c.Cr0 & Processor.Cr0Pe) != 0 && c.Cpl > Iopl(c)) throw Processor.Gp();
        if (!c.InterruptsEnabled) c.InterruptShadow = true;
        c.SetFlagsMasked(Processor.FlagIf, Processor.FlagIf);
        c.Rip = d.NextIp;
        return false;
    }

    private static bool Pushf(Processor c, ref DecodedInstruction d)
    {
        int size = -d.I.StackPointerIncrement;
        // VM and RF read as 0 in the pushed image.
        c.Push(c.GetRflags() & ~(Processor.FlagVm | Processor.FlagRf), size);
        return true;
    }

    private static bool Popf(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.StackPointerIncrement;
        ulong old = c.GetRflags();
        ulong value = c.Pop(size);
        // What POPF may change (SDM "POPF"): at CPL 0 everything but VM, RF, VIP, VIF; IOPL only
        // at CPL 0; IF only where CPL <= IOPL. A 16-bit POPF changes only the low word.
        ulong mask = Processor.ArithFlags | Processor.FlagTf | Processor.FlagDf | Processor.FlagNt | Processor.FlagAc | Processor.FlagId;
        bool protectedMode = (c.Cr0 & Processor.Cr0Pe) != 0;
        int cpl = protectedMode ? c.Cpl : 0;
        if (cpl == 0) mask |= Processor.FlagIopl;
        if (cpl <= (int)((old & Processor.FlagIopl) >> 12)) mask |= Processor.FlagIf;
        if (size == 2) mask &= 0xFFFF;
        ulong next = (old & ~mask) | (value & mask);
        c.SetRflagsRaw(next & ~Processor.FlagRf);
        c.Rip = d.NextIp;
        return false;
    }

    private static bool Lahf(Processor c, ref DecodedInstruction d)
    {
        c.WriteReg(16, 1, (c.GetRflags() & 0xD5) | 2);
        return true;
    }

    private static bool Sahf(Processor c, ref DecodedInstruction d)
    {
        c.SetFlagsMasked(0xD5, c.ReadReg(16, 1));
        return true;
    }
}
