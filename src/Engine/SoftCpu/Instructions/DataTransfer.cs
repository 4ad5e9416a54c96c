using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// MOV (general registers, memory, immediates, moffs), MOVZX, MOVSX, MOVSXD, LEA, XCHG, PUSH and
/// POP of general registers, memory and immediates, PUSHA/POPA, ENTER/LEAVE, CBW/CWDE/CDQE,
/// CWD/CDQ/CQO, CMOVcc, SETcc, BSWAP, and the NOP family (NOP, PAUSE, hint NOPs, prefetches,
/// fences, ENDBR).
/// </summary>
internal static unsafe class DataTransfer
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            // The mnemonic decides, and where it leaves a choice a list of forms does (below).
            switch (code.Mnemonic())
            {
                case Mnemonic.Mov when !IsSpecialRegisterMove(code):
                    t.Add(code, &Mov);
                    break;
                case Mnemonic.Movzx: t.Add(code, &Movzx); break;
                case Mnemonic.Movsx or Mnemonic.Movsxd: t.Add(code, &Movsx); break;
                case Mnemonic.Lea: t.Add(code, &Lea); break;
                case Mnemonic.Xchg: t.Add(code, &Xchg); break;
                case Mnemonic.Push when !IsSegmentPushOrPop(code): t.Add(code, &Push); break;
                case Mnemonic.Pop when !IsSegmentPushOrPop(code): t.Add(code, &Pop); break;
                case Mnemonic.Pusha or Mnemonic.Pushad: t.Add(code, &Pusha); break;
                case Mnemonic.Popa or Mnemonic.Popad: t.Add(code, &Popa); break;
                case Mnemonic.Leave: t.Add(code, &Leave); break;
                case Mnemonic.Enter: t.Add(code, &Enter); break;
                case Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe: t.Add(code, &ExtendAccumulator); break;
                case Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo: t.Add(code, &ExtendIntoDx); break;
                case Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove or Mnemonic.Cmovne
                    or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovp or Mnemonic.Cmovnp
                    or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg:
                    t.Add(code, &Cmov);
                    break;
                case Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete or Mnemonic.Setne
                    or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp
                    or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg:
                    t.Add(code, &Setcc);
                    break;
                case Mnemonic.Bswap: t.Add(code, &Bswap); break;
                case Mnemonic.Nop or Mnemonic.Pause or Mnemonic.Endbr32 or Mnemonic.Endbr64
                    or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchw
                    or Mnemonic.Lfence or Mnemonic.Sfence or Mnemonic.Mfence:
                    t.Add(code, &Nothing);
                    break;
                // 0F 18-0F 1F is the hint-NOP space: a processor without the feature that gave an
                // encoding there its meaning runs it as a NOP, and this one offers none of them.
                // CET put RDSSP there so that software can run it to learn that shadow stacks are
                // off (Xen does at boot, where a #UD is fatal). INCSSP, outside it, stays #UD.
                case Mnemonic.Reservednop when code is not (Code.Reservednop_rm16_r16_0F0D or Code.Reservednop_rm32_r32_0F0D or Code.Reservednop_rm64_r64_0F0D):
                case Mnemonic.Rdsspd or Mnemonic.Rdsspq or Mnemonic.Cldemote or Mnemonic.Prefetchit0 or Mnemonic.Prefetchit1:
                    t.Add(code, &Nothing);
                    break;
            }
        }
    }

    // The forms are listed, not picked out by their names: naming one Code builds the names of
    // all 4,900 (400 KB for the collector at every start). A test holds each list to the names.

    /// <summary>A MOV to or from a segment, control, debug or test register (each has its own handler).</summary>
    internal static bool IsSpecialRegisterMove(Code code) => code is Code.Mov_rm16_Sreg or Code.Mov_r32m16_Sreg or Code.Mov_r64m16_Sreg
        or Code.Mov_Sreg_rm16 or Code.Mov_Sreg_r32m16 or Code.Mov_Sreg_r64m16 or Code.Mov_r32_cr or Code.Mov_r64_cr or Code.Mov_cr_r32
        or Code.Mov_cr_r64 or Code.Mov_r32_dr or Code.Mov_r64_dr or Code.Mov_dr_r32 or Code.Mov_dr_r64 or Code.Mov_r32_tr or Code.Mov_tr_r32;

    /// <summary>A PUSH or POP of a segment register (each has its own handler).</summary>
    internal static bool IsSegmentPushOrPop(Code code) => code is Code.Pushw_ES or Code.Pushd_ES or Code.Popw_ES or Code.Popd_ES
        or Code.Pushw_CS or Code.Pushd_CS or Code.Popw_CS or Code.Pushw_SS or Code.Pushd_SS or Code.Popw_SS or Code.Popd_SS
        or Code.Pushw_DS or Code.Pushd_DS or Code.Popw_DS or Code.Popd_DS or Code.Pushw_FS or Code.Pushd_FS or Code.Pushq_FS
        or Code.Popw_FS or Code.Popd_FS or Code.Popq_FS or Code.Pushw_GS or Code.Pushd_GS or Code.Pushq_GS or Code.Popw_GS
        or Code.Popd_GS or Code.Popq_GS;

    private static bool Nothing(Processor c, ref DecodedInstruction d) => true;

    private static bool Mov(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        if (d.Kind0 == OperandKind.Register)
        {
            c.WriteReg(d.Reg0, size, d.Kind1 == OperandKind.Register ? c.ReadReg(d.Reg1, size) : c.ReadOperand(ref d, 1, size));
            return true;
        }
        ulong v = c.ReadOperand(ref d, 1, size);
        c.Write(c.LinearAddress(ref d), size, v);
        return true;
    }

    private static bool Movzx(Processor c, ref DecodedInstruction d)
    {
        c.WriteReg(d.Reg0, d.Size0, c.ReadOperand(ref d, 1, d.Size1));
        return true;
    }

    private static bool Movsx(Processor c, ref DecodedInstruction d)
    {
        c.WriteReg(d.Reg0, d.Size0, (ulong)Processor.SignExtend(c.ReadOperand(ref d, 1, d.Size1), d.Size1));
        return true;
    }

    private static bool Lea(Processor c, ref DecodedInstruction d)
    {
        c.WriteReg(d.Reg0, d.Size0, c.EffectiveAddress(ref d));
        return true;
    }

    private static bool Xchg(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        if (d.Kind0 == OperandKind.Register && d.Kind1 == OperandKind.Register)
        {
            ulong a = c.ReadReg(d.Reg0, size), b = c.ReadReg(d.Reg1, size);
            // xchg eax,eax (opcode 90 in 64-bit mode is NOP and never decodes as this) still zero-extends.
            c.WriteReg(d.Reg0, size, b);
            c.WriteReg(d.Reg1, size, a);
            return true;
        }
        int reg = d.Kind0 == OperandKind.Register ? d.Reg0 : d.Reg1;
        ulong la = c.LinearAddress(ref d);
        ulong m = c.ReadForWrite(la, size);
        c.Write(la, size, c.ReadReg(reg, size));
        c.WriteReg(reg, size, m);
        return true;
    }

    private static int StackSize(ref DecodedInstruction d) => Math.Abs(d.I.StackPointerIncrement);

    private static bool Push(Processor c, ref DecodedInstruction d)
    {
        int size = StackSize(ref d);
        // PUSH RSP pushes the value before the push.
        ulong v = c.ReadOperand(ref d, 0, size);
        c.Push(v, size);
        return true;
    }

    private static bool Pop(Processor c, ref DecodedInstruction d)
    {
        int size = StackSize(ref d);
        if (d.Kind0 == OperandKind.Register)
        {
            ulong v = c.Pop(size);
            c.WriteReg(d.Reg0, size, v);
            return true;
        }
        // POP to memory: the address is computed with RSP already incremented (SDM "POP").
        ulong value = c.PeekStack(0, size);
        ulong saved = c.R(Processor.Rsp);
        c.R(Processor.Rsp) = (saved & ~c.StackMask) | ((saved + (ulong)size) & c.StackMask);
        try { c.Write(c.LinearAddress(ref d), size, value); }
        catch
        {
            c.R(Processor.Rsp) = saved;
            throw;
        }
        return true;
    }

    private static readonly int[] PushaOrder = [Processor.Rax, Processor.Rcx, Processor.Rdx, Processor.Rbx, Processor.Rsp, Processor.Rbp, Processor.Rsi, Processor.Rdi];

    private static bool Pusha(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Mnemonic == Mnemonic.Pushad ? 4 : 2;
        ulong sp = c.R(Processor.Rsp);
        Span<ulong> values = stackalloc ulong[8];
        for (int i = 0; i < 8; i++) values[i] = c.ReadReg(PushaOrder[i], size);
        c.ProbeWrite(c.Linear(Processor.Ss, (sp - (ulong)(8 * size)) & c.StackMask), 8 * size);
        foreach (ulong v in values) c.Push(v, size);
        return true;
    }

    private static bool Popa(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Mnemonic == Mnemonic.Popad ? 4 : 2;
        Span<ulong> values = stackalloc ulong[8];
        for (int i = 0; i < 8; i++) values[i] = c.PeekStack((ulong)(i * size), size);
        for (int i = 0; i < 8; i++)
            if (PushaOrder[7 - i] != Processor.Rsp) c.WriteReg(PushaOrder[7 - i], size, values[i]);
        ulong sp = c.R(Processor.Rsp);
        c.R(Processor.Rsp) = (sp & ~c.StackMask) | ((sp + (ulong)(8 * size)) & c.StackMask);
        return true;
    }

    private static bool Leave(Processor c, ref DecodedInstruction d)
    {
        // Iced's stack pointer increment does not describe LEAVE (RSP comes from RBP): the size is the code's.
        int size = d.I.Code switch { Code.Leavew => 2, Code.Leaved => 4, _ => 8 };
        // The frame pointer has the stack's width: BP, EBP or RBP.
        ulong bp = c.R(Processor.Rbp) & c.StackMask;
        ulong v = c.Read(c.Linear(Processor.Ss, bp), size);
        c.R(Processor.Rsp) = (c.R(Processor.Rsp) & ~c.StackMask) | ((bp + (ulong)size) & c.StackMask);
        c.WriteReg(Processor.Rbp, size, v);
        return true;
    }

    private static bool Enter(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, _ => 8 };
        ulong alloc = d.I.Immediate16;
        int level = d.I.Immediate8_2nd & 31;
        ulong savedSp = c.R(Processor.Rsp), savedBp = c.R(Processor.Rbp);
        try
        {
            c.Push(c.ReadReg(Processor.Rbp, size), size);
            ulong frame = c.R(Processor.Rsp) & c.StackMask;
            if (level > 0)
            {
                ulong bp = c.R(Processor.Rbp) & c.StackMask;
                for (int i = 1; i < level; i++)
                {
                    bp = (bp - (ulong)size) & c.StackMask;
                    c.Push(c.Read(c.Linear(Processor.Ss, bp), size), size);
                }
                c.Push(frame, size);
            }
            ulong sp = (c.R(Processor.Rsp) - alloc) & c.StackMask;
            c.ProbeWrite(c.Linear(Processor.Ss, sp), 1);
            c.WriteReg(Processor.Rbp, size, frame);
            c.R(Processor.Rsp) = (c.R(Processor.Rsp) & ~c.StackMask) | sp;
        }
        catch
        {
            c.R(Processor.Rsp) = savedSp;
            c.R(Processor.Rbp) = savedBp;
            throw;
        }
        return true;
    }

    private static bool ExtendAccumulator(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Mnemonic switch { Mnemonic.Cbw => 2, Mnemonic.Cwde => 4, _ => 8 };
        c.WriteReg(Processor.Rax, size, (ulong)Processor.SignExtend(c.ReadReg(Processor.Rax, size / 2), size / 2));
        return true;
    }

    private static bool ExtendIntoDx(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Mnemonic switch { Mnemonic.Cwd => 2, Mnemonic.Cdq => 4, _ => 8 };
        bool negative = Processor.SignExtend(c.ReadReg(Processor.Rax, size), size) < 0;
        c.WriteReg(Processor.Rdx, size, negative ? ulong.MaxValue : 0);
        return true;
    }

    private static bool Cmov(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        // The source is read (and may fault) whether or not the condition holds; a 32-bit
        // destination is zero-extended either way.
        ulong v = c.ReadOperand(ref d, 1, size);
        c.WriteReg(d.Reg0, size, c.Condition(d.Condition) ? v : c.ReadReg(d.Reg0, size));
        return true;
    }

    private static bool Setcc(Processor c, ref DecodedInstruction d)
    {
        c.WriteOperand0(ref d, 1, c.Condition(d.Condition) ? 1UL : 0);
        return true;
    }

    private static bool Bswap(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong v = c.ReadReg(d.Reg0, size);
        // BSWAP of a 16-bit register is undefined; processors clear it.
        ulong r = size switch
        {
            8 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
            4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
            _ => 0,
        };
        c.WriteReg(d.Reg0, size, r);
        return true;
    }
}
