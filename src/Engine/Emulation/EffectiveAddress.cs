using Iced.Intel;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>The linear address of an instruction's memory operand, computed by Iced from the vCPU's registers.</summary>
internal static class EffectiveAddress
{
    public static ulong Of(VcpuState s, in Instruction instr)
    {
        var value = RegisterValue(s);
        ulong address = instr.GetVirtualAddress(0, 0, (reg, index, size) => value(reg, index, size));
        return s.Is64BitMode ? address : address & 0xFFFF_FFFF;
    }

    /// <summary>Register and segment-base values for Iced's address computations; false for a register an address cannot use here (vector indexes).</summary>
    public static VATryGetRegisterValue TryRegisterValue(VcpuState s)
    {
        var value = RegisterValue(s);
        return (Register reg, int elementIndex, int elementSize, out ulong result) =>
        {
            try { result = value(reg, elementIndex, elementSize); return true; }
            catch (NotEmulatedException) { result = 0; return false; }
        };
    }

    private static Func<Register, int, int, ulong> RegisterValue(VcpuState s)
    {
        var regs = s.Regs;
        var sregs = s.Sregs;
        bool long64 = s.Is64BitMode;
        return (reg, _, _) =>
        {
            if (reg.IsSegmentRegister())
            {
                // In 64-bit mode only FS and GS have a base.
                if (long64 && reg != Register.FS && reg != Register.GS) return 0;
                return Segment(sregs, reg).Base;
            }
            ulong full = reg.GetFullRegister() switch
            {
                Register.RAX => regs.Rax, Register.RBX => regs.Rbx, Register.RCX => regs.Rcx, Register.RDX => regs.Rdx,
                Register.RSI => regs.Rsi, Register.RDI => regs.Rdi, Register.RSP => regs.Rsp, Register.RBP => regs.Rbp,
                Register.R8 => regs.R8, Register.R9 => regs.R9, Register.R10 => regs.R10, Register.R11 => regs.R11,
                Register.R12 => regs.R12, Register.R13 => regs.R13, Register.R14 => regs.R14, Register.R15 => regs.R15,
                Register.RIP => regs.Rip,
                _ => throw new NotEmulatedException($"register {reg} in an address"),
            };
            return reg.GetSize() switch { 2 => full & 0xFFFF, 4 => full & 0xFFFF_FFFF, _ => full };
        };
    }

    private static SegmentRegister Segment(in SystemRegisters s, Register reg) => reg switch
    {
        Register.ES => s.Es, Register.CS => s.Cs, Register.SS => s.Ss, Register.DS => s.Ds, Register.FS => s.Fs, _ => s.Gs,
    };
}
