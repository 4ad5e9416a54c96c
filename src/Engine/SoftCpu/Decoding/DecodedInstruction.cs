using System.Runtime.InteropServices;
using Iced.Intel;

namespace VmReplay.Engine.SoftCpu.Decoding;

/// <summary>What kind of thing an operand is, as the handlers need to know it.</summary>
internal enum OperandKind : byte
{
    None,
    Register,
    Memory,
    Immediate,
    /// <summary>Anything else (branch targets, string operands, segment or control registers): read from <see cref="DecodedInstruction.I"/>.</summary>
    Other,
}

/// <summary>
/// One decoded instruction in a block: Iced's decoding plus what the handler needs precomputed
/// (register numbers, operand sizes, the parts of the memory operand's address), and the
/// handler itself. Made once per block decode; executing it never decodes again.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DecodedInstruction
{
    /// <summary>
    /// Executes the instruction. Returns true when execution goes on with the next instruction
    /// of the block; false when the handler set <see cref="Processor.Rip"/> itself (a branch) or
    /// the block must end after it (a mode change, an exit).
    /// </summary>
    public delegate*<Processor, ref DecodedInstruction, bool> Execute;

    /// <summary>Iced's decoding (the handler reads what it did not get precomputed from here).</summary>
    public Instruction I;

    /// <summary>Register number (encoding order 0-15; 16-19 are AH, CH, DH, BH) of operands 0-2 that are registers.</summary>
    public byte Reg0, Reg1, Reg2;
    public OperandKind Kind0, Kind1, Kind2;
    /// <summary>Size in bytes of operands 0 and 1 (a register's size, a memory operand's size, an immediate's extended size).</summary>
    public byte Size0, Size1;

    // The memory operand: linear = segment base + ((base + (index << scale) + displacement) & address mask).
    public byte Base, Index, Scale, Segment;
    public ulong Displacement;
    public ulong AddressMask;

    /// <summary>The immediate operand, extended to the operand size as the instruction does; a near branch's target.</summary>
    public ulong Immediate;

    /// <summary>A Jcc/SETcc/CMOVcc condition as the opcode's low nibble (0 O ... 15 G).</summary>
    public byte Condition;

    /// <summary>A register field that holds no register.</summary>
    public const byte NoRegister = 0xFF;

    public readonly ulong Ip => I.IP;
    public readonly ulong NextIp => I.NextIP;
}
