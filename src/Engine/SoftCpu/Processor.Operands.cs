using System.Runtime.CompilerServices;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

/// <summary>Operand access for instruction handlers: registers by size, the memory operand's address, the stack.</summary>
public sealed partial class Processor
{
    /// <summary>Reads general register <paramref name="reg"/> (16-19: AH, CH, DH, BH) at <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadReg(int reg, int size)
    {
        if (size == 8) return R(reg);
        if (size == 4) return (uint)R(reg);
        if (size == 2) return (ushort)R(reg);
        return reg >= 16 ? (byte)(R(reg - 16) >> 8) : (byte)R(reg);
    }

    /// <summary>Writes a general register: a 32-bit write clears bits 63:32, 8- and 16-bit writes keep the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteReg(int reg, int size, ulong value)
    {
        switch (size)
        {
            case 8: R(reg) = value; break;
            case 4: R(reg) = (uint)value; break;
            case 2: R(reg) = (R(reg) & ~0xFFFFUL) | (ushort)value; break;
            default:
                if (reg >= 16) R(reg - 16) = (R(reg - 16) & ~0xFF00UL) | ((ulong)(byte)value << 8);
                else R(reg) = (R(reg) & ~0xFFUL) | (byte)value;
                break;
        }
    }

    /// <summary>The memory operand's offset within its segment (base + index·scale + displacement, wrapped to the address size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong EffectiveAddress(ref DecodedInstruction d)
    {
        ulong ea = d.Displacement;
        if (d.Base != DecodedInstruction.NoRegister) ea += R(d.Base);
        if (d.Index != DecodedInstruction.NoRegister) ea += R(d.Index) << d.Scale;
        return ea & d.AddressMask;
    }

    /// <summary>The memory operand's linear address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong LinearAddress(ref DecodedInstruction d) => (SegBase[d.Segment] + EffectiveAddress(ref d)) & LinearMask;

    /// <summary>The linear address of <paramref name="offset"/> in segment <paramref name="segment"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Linear(int segment, ulong offset) => (SegBase[segment] + offset) & LinearMask;

    /// <summary>Operand 0 or 1 (register, memory or immediate) at <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadOperand(ref DecodedInstruction d, int n, int size)
    {
        var kind = n == 0 ? d.Kind0 : d.Kind1;
        if (kind == OperandKind.Register) return ReadReg(n == 0 ? d.Reg0 : d.Reg1, size);
        if (kind == OperandKind.Memory) return Read(LinearAddress(ref d), size);
        return d.Immediate;
    }

    /// <summary>
    /// Reads a read-modify-write memory operand through the write translation, so that a page
    /// the instruction may not write faults now (with the write bit in the error code) and the
    /// write that follows hits the TLB.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadForWrite(ulong la, int size)
    {
        ProbeWrite(la, size);
        return Read(la, size);
    }

    /// <summary>Writes operand 0 (register or memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteOperand0(ref DecodedInstruction d, int size, ulong value)
    {
        if (d.Kind0 == OperandKind.Register) WriteReg(d.Reg0, size, value);
        else Write(LinearAddress(ref d), size, value);
    }

    /// <summary>Pushes <paramref name="size"/> bytes; RSP changes only once the write succeeded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Push(ulong value, int size)
    {
        ulong sp = (R(Rsp) - (ulong)size) & StackMask;
        Write(Linear(Ss, sp), size, value);
        R(Rsp) = (R(Rsp) & ~StackMask) | sp;
    }

    /// <summary>Pops <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Pop(int size)
    {
        ulong sp = R(Rsp) & StackMask;
        ulong v = Read(Linear(Ss, sp), size);
        R(Rsp) = (R(Rsp) & ~StackMask) | ((sp + (ulong)size) & StackMask);
        return v;
    }

    /// <summary>Reads the value <paramref name="depth"/> bytes above the stack top without popping (for instructions that may still fault).</summary>
    internal ulong PeekStack(ulong depth, int size) => Read(Linear(Ss, (R(Rsp) + depth) & StackMask), size);

    /// <summary>Sign-extends the low <paramref name="size"/> bytes of <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long SignExtend(ulong v, int size) => size switch
    {
        1 => (sbyte)v,
        2 => (short)v,
        4 => (int)v,
        _ => (long)v,
    };

    /// <summary>All ones at <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SizeMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
}
