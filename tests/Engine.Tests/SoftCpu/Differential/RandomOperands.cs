using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// Cases for any form of a general-purpose instruction (an Iced <see cref="Code"/>) with random
/// operands: registers of the form's sizes, a memory operand inside the data buffer (a base
/// register and sometimes a scaled index, pointing so the access stays in the buffer), random
/// immediates, and random values in every general register but the pointers. Iterating a
/// mnemonic's codes (<see cref="CodesOf"/>) covers every operand size and encoding.
/// </summary>
internal static class RandomOperands
{
    // Registers a memory operand is built from: never RAX, RCX, RDX (implicit in MUL, DIV,
    // CMPXCHG, shifts by CL...) or RSP.
    private static readonly Register[] AddressRegisters =
        [Register.RBX, Register.RBP, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15];

    private static readonly Register[] Byte =
    [
        Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH,
        Register.SPL, Register.BPL, Register.SIL, Register.DIL, Register.R8L, Register.R9L, Register.R10L, Register.R11L,
        Register.R12L, Register.R13L, Register.R14L, Register.R15L,
    ];

    /// <summary>The codes of <paramref name="mnemonic"/> that exist in 64-bit mode (legacy encodings).</summary>
    public static Code[] CodesOf(Mnemonic mnemonic) =>
        Enum.GetValues<Code>().Where(c => c.Mnemonic() == mnemonic && c.ToOpCode() is { Mode64: true, Encoding: EncodingKind.Legacy }).ToArray();

    private static readonly HashSet<OpCodeOperandKind> Handled =
    [
        OpCodeOperandKind.r8_or_mem, OpCodeOperandKind.r16_or_mem, OpCodeOperandKind.r32_or_mem, OpCodeOperandKind.r64_or_mem,
        OpCodeOperandKind.mem, OpCodeOperandKind.mem_offs,
        OpCodeOperandKind.r8_reg, OpCodeOperandKind.r8_opcode, OpCodeOperandKind.r16_reg, OpCodeOperandKind.r16_rm, OpCodeOperandKind.r16_opcode,
        OpCodeOperandKind.r16_reg_mem, OpCodeOperandKind.r32_reg, OpCodeOperandKind.r32_rm, OpCodeOperandKind.r32_opcode, OpCodeOperandKind.r32_reg_mem,
        OpCodeOperandKind.r64_reg, OpCodeOperandKind.r64_rm, OpCodeOperandKind.r64_opcode, OpCodeOperandKind.r64_reg_mem,
        OpCodeOperandKind.al, OpCodeOperandKind.cl, OpCodeOperandKind.ax, OpCodeOperandKind.dx, OpCodeOperandKind.eax, OpCodeOperandKind.rax,
        OpCodeOperandKind.imm8_const_1, OpCodeOperandKind.imm8, OpCodeOperandKind.imm8sex16, OpCodeOperandKind.imm8sex32, OpCodeOperandKind.imm8sex64,
        OpCodeOperandKind.imm16, OpCodeOperandKind.imm32, OpCodeOperandKind.imm32sex64, OpCodeOperandKind.imm64,
    ];

    /// <summary>Whether <see cref="Case"/> can build <paramref name="code"/> (general registers, memory and immediates only).</summary>
    public static bool Supports(Code code)
    {
        var op = code.ToOpCode();
        for (int i = 0; i < op.OpCount; i++)
            if (!Handled.Contains(op.GetOpKind(i))) return false;
        return true;
    }

    /// <summary>A case of <paramref name="code"/> with random operands; all 16 registers random except RSP (the buffer's middle) and the address registers.</summary>
    public static DifferentialCase Case(Code code, OperandValues values)
    {
        for (int attempt = 0; ; attempt++)
        {
            var ins = Build(code, values, out var pointers);
            var writer = new ByteWriter();
            var encoder = Encoder.Create(64, writer);
            if (!encoder.TryEncode(ins, DifferentialLayout.CodeAddress, out _, out string? error))
            {
                // AH-BH with a register that needs REX: choose again.
                if (attempt < 50) continue;
                throw new InvalidOperationException($"cannot encode {code}: {error}");
            }
            var c = DifferentialCase.OfBytes(writer.Bytes.ToArray());
            for (int i = 0; i < 16; i++) c.Gpr[i] = values.Next(64);
            c.Gpr[4] = DifferentialLayout.DataAddress + 0x800;
            foreach (var (reg, value) in pointers) c.Set(reg, value);
            c.Flags = values.Flags() & ~0x400UL;
            c.DataSeed = values.Random64();
            return c;
        }
    }

    private static Instruction Build(Code code, OperandValues values, out List<(Register Reg, ulong Value)> pointers)
    {
        var op = code.ToOpCode();
        var ins = new Instruction { Code = code };
        pointers = [];
        for (int i = 0; i < op.OpCount; i++)
        {
            var kind = op.GetOpKind(i);
            switch (kind)
            {
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem:
                    if (values.OneIn(2)) SetRegister(ref ins, i, RegisterOf(kind, values));
                    else SetMemory(ref ins, i, MemorySize(ins), values, pointers);
                    break;
                case OpCodeOperandKind.mem:
                    SetMemory(ref ins, i, Math.Max(1, MemorySize(ins)), values, pointers);
                    break;
                case OpCodeOperandKind.mem_offs:
                    // moffs: a 64-bit absolute address, no registers.
                    ins.SetOpKind(i, OpKind.Memory);
                    ins.MemoryDisplacement64 = DifferentialLayout.DataAddress + (ulong)values.Between(0, DifferentialLayout.DataSize - 8);
                    ins.MemoryDisplSize = 8;
                    break;
                case OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode
                    or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_reg_mem
                    or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_reg_mem
                    or OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_opcode or OpCodeOperandKind.r64_reg_mem:
                    SetRegister(ref ins, i, RegisterOf(kind, values));
                    break;
                case OpCodeOperandKind.al: SetRegister(ref ins, i, Register.AL); break;
                case OpCodeOperandKind.cl: SetRegister(ref ins, i, Register.CL); break;
                case OpCodeOperandKind.ax: SetRegister(ref ins, i, Register.AX); break;
                case OpCodeOperandKind.dx: SetRegister(ref ins, i, Register.DX); break;
                case OpCodeOperandKind.eax: SetRegister(ref ins, i, Register.EAX); break;
                case OpCodeOperandKind.rax: SetRegister(ref ins, i, Register.RAX); break;
                case OpCodeOperandKind.imm8_const_1:
                    ins.SetOpKind(i, OpKind.Immediate8);
                    ins.SetImmediate(i, 1);
                    break;
                case OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64:
                    ins.SetOpKind(i, kind switch
                    {
                        OpCodeOperandKind.imm8sex16 => OpKind.Immediate8to16,
                        OpCodeOperandKind.imm8sex32 => OpKind.Immediate8to32,
                        OpCodeOperandKind.imm8sex64 => OpKind.Immediate8to64,
                        _ => i == 0 || ins.GetOpKind(i - 1) != OpKind.Immediate16 ? OpKind.Immediate8 : OpKind.Immediate8_2nd,
                    });
                    if (ins.GetOpKind(i) == OpKind.Immediate8_2nd) ins.Immediate8_2nd = (byte)values.Next(8);
                    else ins.SetImmediate(i, kind == OpCodeOperandKind.imm8 ? (long)values.Next(8) : (sbyte)values.Next(8));
                    break;
                case OpCodeOperandKind.imm16:
                    ins.SetOpKind(i, OpKind.Immediate16);
                    ins.SetImmediate(i, (long)values.Next(16));
                    break;
                case OpCodeOperandKind.imm32:
                    ins.SetOpKind(i, OpKind.Immediate32);
                    ins.SetImmediate(i, (long)values.Next(32));
                    break;
                case OpCodeOperandKind.imm32sex64:
                    ins.SetOpKind(i, OpKind.Immediate32to64);
                    ins.SetImmediate(i, (int)values.Next(32));
                    break;
                case OpCodeOperandKind.imm64:
                    ins.SetOpKind(i, OpKind.Immediate64);
                    ins.SetImmediate(i, values.Next(64));
                    break;
                default:
                    throw new NotSupportedException($"{code}: operand kind {kind} has no random form");
            }
        }
        return ins;
    }

    private static void SetRegister(ref Instruction ins, int i, Register r)
    {
        ins.SetOpKind(i, OpKind.Register);
        ins.SetOpRegister(i, r);
    }

    private static Register RegisterOf(OpCodeOperandKind kind, OperandValues values)
    {
        int n = values.Between(0, 16);
        return kind switch
        {
            OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode => values.Pick(Byte),
            OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_reg_mem => Register.AX + n,
            OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_reg_mem => Register.EAX + n,
            _ => Register.RAX + n,
        };
    }

    // The size of the form's memory operand, as Iced knows it from the code.
    private static int MemorySize(in Instruction ins) => Math.Max(ins.MemorySize.GetSize(), 1);

    private static void SetMemory(ref Instruction ins, int i, int size, OperandValues values, List<(Register, ulong)> pointers)
    {
        var baseReg = values.Pick(AddressRegisters);
        int offset = values.Between(0, DifferentialLayout.DataSize - Math.Max(size, 16) + 1);
        long displacement = values.Pick(new long[] { 0, values.Between(-128, 128), values.Between(-2048, 2048) });
        ulong target = DifferentialLayout.DataAddress + (ulong)offset;
        ins.SetOpKind(i, OpKind.Memory);
        ins.MemoryBase = baseReg;
        if (values.OneIn(3))
        {
            Register index;
            do index = values.Pick(AddressRegisters); while (index == baseReg);
            int scale = 1 << values.Between(0, 4);
            ulong indexValue = (ulong)values.Between(0, 64);
            ins.MemoryIndex = index;
            ins.MemoryIndexScale = scale;
            pointers.Add((index, indexValue));
            target -= indexValue * (ulong)scale;
        }
        ins.MemoryDisplacement64 = (ulong)displacement;
        ins.MemoryDisplSize = displacement == 0 ? 0 : displacement is >= -128 and < 128 ? 1 : 4;
        pointers.Add((baseReg, target - (ulong)displacement));
    }

    private sealed class ByteWriter : CodeWriter
    {
        public List<byte> Bytes { get; } = [];
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
