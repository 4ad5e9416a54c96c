using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// IN, OUT, INS, OUTS (with REP). Each access leaves the processor as an exit before the
/// instruction completes, as on KVM: the VMM handles the port, then the next run completes the
/// instruction (an IN's register, an INS's store, the string registers). A REP string
/// instruction makes one exit per element, and each element counts as one retired
/// instruction. The I/O permission check (CPL against IOPL, then the TSS bitmap) comes first.
/// </summary>
internal static unsafe class PortIo
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            switch (code.Mnemonic())
            {
                case Mnemonic.In: t.Add(code, &In); break;
                case Mnemonic.Out: t.Add(code, &Out); break;
                case Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd: t.Add(code, &Ins); break;
                case Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd: t.Add(code, &Outs); break;
            }
        }
    }

    private static ushort PortOf(Processor c, ref DecodedInstruction d, int operand) =>
        (operand == 0 ? d.Kind0 : d.Kind1) == OperandKind.Immediate ? (ushort)(byte)d.Immediate : (ushort)c.R(Processor.Rdx);

    private static bool In(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ushort port = PortOf(c, ref d, 1);
        CheckPermission(c, port, size);
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.PortIn, port, size, &CompleteIn);
    }

    private static void CompleteIn(Processor c, ref DecodedInstruction d)
    {
        c.WriteReg(Processor.Rax, d.Size0, c.Exit.DataValue & Processor.SizeMask(d.Size0));
        c.Rip = d.NextIp;
    }

    private static bool Out(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size1;
        ushort port = PortOf(c, ref d, 0);
        CheckPermission(c, port, size);
        BitConverter.TryWriteBytes(c.Exit.Data, c.ReadReg(Processor.Rax, size));
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.PortOut, port, size, &CompleteOut);
    }

    private static void CompleteOut(Processor c, ref DecodedInstruction d) => c.Rip = d.NextIp;

    private static int ElementSize(ref DecodedInstruction d) => d.I.Mnemonic switch
    {
        Mnemonic.Insb or Mnemonic.Outsb => 1,
        Mnemonic.Insw or Mnemonic.Outsw => 2,
        _ => 4,
    };

    private static bool Ins(Processor c, ref DecodedInstruction d)
    {
        int size = ElementSize(ref d);
        bool rep = d.I.HasRepPrefix || d.I.HasRepePrefix;
        if (rep && (c.R(Processor.Rcx) & d.AddressMask) == 0) return true;
        ushort port = (ushort)c.R(Processor.Rdx);
        CheckPermission(c, port, size);
        // The store must be possible before the device is read: a fault after it would lose the byte.
        c.ProbeWrite(c.Linear(Processor.Es, c.R(Processor.Rdi) & d.AddressMask), size);
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.PortIn, port, size, &CompleteIns);
    }

    private static void CompleteIns(Processor c, ref DecodedInstruction d)
    {
        int size = ElementSize(ref d);
        ulong mask = d.AddressMask;
        ulong di = c.R(Processor.Rdi) & mask;
        c.Write(c.Linear(Processor.Es, di), size, c.Exit.DataValue);
        Advance(c, Processor.Rdi, mask, size);
        FinishElement(c, ref d);
    }

    private static bool Outs(Processor c, ref DecodedInstruction d)
    {
        int size = ElementSize(ref d);
        bool rep = d.I.HasRepPrefix || d.I.HasRepePrefix;
        if (rep && (c.R(Processor.Rcx) & d.AddressMask) == 0) return true;
        ushort port = (ushort)c.R(Processor.Rdx);
        CheckPermission(c, port, size);
        ulong si = c.R(Processor.Rsi) & d.AddressMask;
        BitConverter.TryWriteBytes(c.Exit.Data, c.Read(c.Linear(d.Segment, si), size));
        return c.ExitBeforeCompletion(ref d, ProcessorExitKind.PortOut, port, size, &CompleteOuts);
    }

    private static void CompleteOuts(Processor c, ref DecodedInstruction d)
    {
        Advance(c, Processor.Rsi, d.AddressMask, ElementSize(ref d));
        FinishElement(c, ref d);
    }

    private static void Advance(Processor c, int reg, ulong mask, int size)
    {
        ulong v = c.R(reg);
        ulong next = c.Df ? (v & mask) - (ulong)size : (v & mask) + (ulong)size;
        c.R(reg) = mask == 0xFFFF_FFFF ? next & mask : (v & ~mask) | (next & mask);
    }

    // After one element: a REP string instruction stays at itself until the count runs out.
    private static void FinishElement(Processor c, ref DecodedInstruction d)
    {
        if (d.I.HasRepPrefix || d.I.HasRepePrefix)
        {
            ulong mask = d.AddressMask;
            ulong count = (c.R(Processor.Rcx) - 1) & mask;
            c.R(Processor.Rcx) = mask == 0xFFFF_FFFF ? count : (c.R(Processor.Rcx) & ~mask) | count;
            c.Rip = count != 0 ? d.Ip : d.NextIp;
            return;
        }
        c.Rip = d.NextIp;
    }

    /// <summary>
    /// Protected mode with CPL &gt; IOPL: every bit of the port range in the TSS's I/O permission
    /// bitmap must be clear, else #GP(0) (SDM vol. 1, 19.5.2).
    /// </summary>
    internal static void CheckPermission(Processor c, ushort port, int size)
    {
        if ((c.Cr0 & Processor.Cr0Pe) == 0) return;
        int iopl = (int)((c.GetRflags() & Processor.FlagIopl) >> 12);
        if (c.Cpl <= iopl && (c.GetRflags() & Processor.FlagVm) == 0) return;
        var tr = c.Tr;
        // Only a 32-bit or 64-bit TSS (type 9 or 11) has a bitmap.
        if ((tr.Type & 0xD) != 9 || tr.Limit < 0x67) throw Processor.Gp();
        ulong mapBase = c.ReadSystem(tr.Base + 0x66, 2);
        ulong offset = mapBase + (ulong)(port >> 3);
        if (offset + 1 > tr.Limit) throw Processor.Gp();
        ulong bits = c.ReadSystem(tr.Base + offset, 2);
        ulong wanted = ((1UL << size) - 1) << (port & 7);
        if ((bits & wanted) != 0) throw Processor.Gp();
    }
}
