using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// Near JMP, Jcc, CALL and RET (relative and indirect, every operand size), LOOP/LOOPE/LOOPNE
/// and JCXZ/JECXZ/JRCXZ. Far transfers live with the system instructions.
/// </summary>
internal static unsafe class ControlFlow
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            // The mnemonic decides; for JMP and CALL, whose far forms have handlers of their own,
            // Iced's predicates tell the near ones apart (no form is named: see DataTransfer).
            switch (code.Mnemonic())
            {
                case Mnemonic.Jmp when code.IsJmpShortOrNear(): t.Add(code, &JumpRelative); break;
                case Mnemonic.Jmp when code.IsJmpNearIndirect(): t.Add(code, &JumpIndirect); break;
                case Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jbe
                    or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp or Mnemonic.Jl or Mnemonic.Jge
                    or Mnemonic.Jle or Mnemonic.Jg:
                    t.Add(code, &Jcc);
                    break;
                case Mnemonic.Call when code.IsCallNear(): t.Add(code, &CallRelative); break;
                case Mnemonic.Call when code.IsCallNearIndirect(): t.Add(code, &CallIndirect); break;
                case Mnemonic.Ret: t.Add(code, &Ret); break;
                case Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne: t.Add(code, &Loop); break;
                case Mnemonic.Jcxz or Mnemonic.Jecxz or Mnemonic.Jrcxz: t.Add(code, &JumpIfCountZero); break;
            }
        }
    }

    // A near branch's target wraps to the operand size (IP, EIP); Iced already applied that to
    // relative targets. Outside 64-bit mode a target beyond the CS limit raises #GP; limits are
    // not checked (the guests we run use flat or 64 KiB real-mode code segments).
    private static bool JumpRelative(Processor c, ref DecodedInstruction d)
    {
        c.Rip = d.Immediate;
        return false;
    }

    private static bool JumpIndirect(Processor c, ref DecodedInstruction d)
    {
        c.Rip = c.ReadOperand(ref d, 0, d.Size0);
        return false;
    }

    private static bool Jcc(Processor c, ref DecodedInstruction d)
    {
        c.Rip = c.Condition(d.Condition) ? d.Immediate : d.NextIp;
        return false;
    }

    private static bool CallRelative(Processor c, ref DecodedInstruction d)
    {
        c.Push(d.NextIp, -d.I.StackPointerIncrement);
        c.Rip = d.Immediate;
        return false;
    }

    private static bool CallIndirect(Processor c, ref DecodedInstruction d)
    {
        int size = -d.I.StackPointerIncrement;
        ulong target = c.ReadOperand(ref d, 0, size);
        c.Push(d.NextIp, size);
        c.Rip = target;
        return false;
    }

    private static bool Ret(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 => 2,
            Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        ulong target = c.Pop(size);
        if (d.Kind0 == OperandKind.Immediate)
        {
            ulong sp = c.R(Processor.Rsp);
            c.R(Processor.Rsp) = (sp & ~c.StackMask) | ((sp + (ushort)d.Immediate) & c.StackMask);
        }
        c.Rip = target;
        return false;
    }

    // LOOPcc and JrCXZ use the address size's count register: CX, ECX or RCX.
    private static ulong CountMask(ref DecodedInstruction d) => d.I.Op1Kind == OpKind.Register ? d.I.Op1Register switch
    {
        Iced.Intel.Register.CX => 0xFFFF,
        Iced.Intel.Register.ECX => 0xFFFF_FFFF,
        _ => ulong.MaxValue,
    } : ulong.MaxValue;

    private static bool Loop(Processor c, ref DecodedInstruction d)
    {
        ulong mask = CountMask(ref d);
        ulong count = (c.R(Processor.Rcx) - 1) & mask;
        c.R(Processor.Rcx) = (c.R(Processor.Rcx) & ~mask) | count;
        bool taken = count != 0 && d.I.Mnemonic switch
        {
            Mnemonic.Loope => c.Zf,
            Mnemonic.Loopne => !c.Zf,
            _ => true,
        };
        c.Rip = taken ? d.Immediate : d.NextIp;
        return false;
    }

    private static bool JumpIfCountZero(Processor c, ref DecodedInstruction d)
    {
        ulong mask = d.I.Mnemonic switch { Mnemonic.Jcxz => 0xFFFFUL, Mnemonic.Jecxz => 0xFFFF_FFFFUL, _ => ulong.MaxValue };
        c.Rip = (c.R(Processor.Rcx) & mask) == 0 ? d.Immediate : d.NextIp;
        return false;
    }
}
