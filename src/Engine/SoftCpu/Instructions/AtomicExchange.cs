using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// XADD, CMPXCHG, CMPXCHG8B and CMPXCHG16B (SDM vol. 2A; <see cref="SoftCpuModel"/> offers CX8 and
/// CX16). One processor running one instruction at a time makes every one of them atomic, LOCK
/// or not. A memory destination is written whether or not the comparison succeeds (the SDM's
/// write-back of the old value), so it is checked for writing first.
/// </summary>
internal static unsafe class AtomicExchange
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            switch (code.Mnemonic())
            {
                case Mnemonic.Xadd: t.Add(code, &Xadd); break;
                case Mnemonic.Cmpxchg: t.Add(code, &Cmpxchg); break;
            }
        }
        t.Add(Code.Cmpxchg8b_m64, &Cmpxchg8b);
        t.Add(Code.Cmpxchg16b_m128, &Cmpxchg16b);
    }

    /// <summary>XADD: the destination gets the sum, the source register the destination's old value (flags as ADD).</summary>
    private static bool Xadd(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong src = c.ReadReg(d.Reg1, size);
        ulong sum;
        if (d.Kind0 == OperandKind.Register)
        {
            ulong dest = c.ReadReg(d.Reg0, size);
            sum = dest + src;
            // The source first: with one register for both, the sum is what remains.
            c.WriteReg(d.Reg1, size, dest);
            c.WriteReg(d.Reg0, size, sum);
            c.SetLazy(FlagOp.Add, dest, src, sum, size * 8);
            return true;
        }
        ulong la = c.LinearAddress(ref d);
        ulong m = c.ReadForWrite(la, size);
        sum = m + src;
        c.Write(la, size, sum);
        c.WriteReg(d.Reg1, size, m);
        c.SetLazy(FlagOp.Add, m, src, sum, size * 8);
        return true;
    }

    /// <summary>
    /// CMPXCHG: compares the accumulator with the destination (flags as CMP); equal, the source
    /// goes to the destination, otherwise the destination's value goes to the accumulator.
    /// </summary>
    private static bool Cmpxchg(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong acc = c.ReadReg(Processor.Rax, size);
        ulong src = c.ReadReg(d.Reg1, size);
        if (d.Kind0 == OperandKind.Register)
        {
            ulong dest = c.ReadReg(d.Reg0, size);
            c.SetLazy(FlagOp.Sub, acc, dest, acc - dest, size * 8);
            // Only the register written changes (a 32-bit write clears bits 63:32, a skipped one does not).
            if (acc == dest) c.WriteReg(d.Reg0, size, src);
            else c.WriteReg(Processor.Rax, size, dest);
            return true;
        }
        ulong la = c.LinearAddress(ref d);
        ulong m = c.ReadForWrite(la, size);
        c.SetLazy(FlagOp.Sub, acc, m, acc - m, size * 8);
        if (acc == m) c.Write(la, size, src);
        else
        {
            c.Write(la, size, m);
            c.WriteReg(Processor.Rax, size, m);
        }
        return true;
    }

    /// <summary>CMPXCHG8B: EDX:EAX against the quadword; equal, ECX:EBX is stored (ZF set), else EDX:EAX is loaded (ZF clear).</summary>
    private static bool Cmpxchg8b(Processor c, ref DecodedInstruction d)
    {
        ulong la = c.LinearAddress(ref d);
        ulong m = c.ReadForWrite(la, 8);
        ulong expected = (c.ReadReg(Processor.Rdx, 4) << 32) | c.ReadReg(Processor.Rax, 4);
        if (m == expected)
        {
            c.Write(la, 8, (c.ReadReg(Processor.Rcx, 4) << 32) | c.ReadReg(Processor.Rbx, 4));
            c.SetFlagsMasked(Processor.FlagZf, Processor.FlagZf);
            c.RetiredVmmEmulatedInstruction();
            return true;
        }
        c.Write(la, 8, m);
        c.WriteReg(Processor.Rax, 4, (uint)m);
        c.WriteReg(Processor.Rdx, 4, m >> 32);
        c.SetFlagsMasked(Processor.FlagZf, 0);
        c.RetiredVmmEmulatedInstruction();
        return true;
    }

    /// <summary>CMPXCHG16B: as CMPXCHG8B with RDX:RAX and RCX:RBX; the operand must be 16-byte aligned (#GP(0)).</summary>
    private static bool Cmpxchg16b(Processor c, ref DecodedInstruction d)
    {
        ulong la = c.LinearAddress(ref d);
        if ((la & 15) != 0) throw Processor.Gp();
        c.ProbeWrite(la, 16);
        ulong low = c.Read(la, 8), high = c.Read(la + 8, 8);
        if (low == c.R(Processor.Rax) && high == c.R(Processor.Rdx))
        {
            c.Write(la, 8, c.R(Processor.Rbx));
            c.Write(la + 8, 8, c.R(Processor.Rcx));
            c.SetFlagsMasked(Processor.FlagZf, Processor.FlagZf);
            c.RetiredVmmEmulatedInstruction();
            return true;
        }
        c.Write(la, 8, low);
        c.Write(la + 8, 8, high);
        c.R(Processor.Rax) = low;
        c.R(Processor.Rdx) = high;
        c.SetFlagsMasked(Processor.FlagZf, 0);
        c.RetiredVmmEmulatedInstruction();
        return true;
    }
}
