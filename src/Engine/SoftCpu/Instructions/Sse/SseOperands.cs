using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// Operand access for SSE and MMX handlers: the decoder precomputes general registers only, so
/// XMM and MMX register numbers come from Iced's decoding; the source is operand 1 (a register
/// or memory), the destination operand 0.
/// </summary>
internal static class SseOperands
{
    /// <summary>The XMM register number of operand 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Xmm0(ref DecodedInstruction d) => d.I.Op0Register - Register.XMM0;

    /// <summary>The XMM register number of operand 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Xmm1(ref DecodedInstruction d) => d.I.Op1Register - Register.XMM0;

    /// <summary>The MMX register number of operand 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mm0(ref DecodedInstruction d) => d.I.Op0Register - Register.MM0;

    /// <summary>The MMX register number of operand 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mm1(ref DecodedInstruction d) => d.I.Op1Register - Register.MM0;

    /// <summary>
    /// Operand 1 as 128 bits: an XMM register, or m128 (legacy SSE requires it 16-byte aligned,
    /// except for the unaligned moves: <paramref name="aligned"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Xmm128(Processor c, ref DecodedInstruction d, bool aligned = true) =>
        d.Kind1 == OperandKind.Memory ? c.Read128(c.LinearAddress(ref d), aligned) : c.XmmRegister(Xmm1(ref d));

    /// <summary>Operand 1 as 64 bits: an XMM register's low quadword, or m64 (no alignment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Xmm64(Processor c, ref DecodedInstruction d) =>
        d.Kind1 == OperandKind.Memory ? c.Read64(c.LinearAddress(ref d)) : c.XmmQword(Xmm1(ref d), 0);

    /// <summary>Operand 1 as 32 bits: an XMM register's low doubleword, or m32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Xmm32(Processor c, ref DecodedInstruction d) =>
        d.Kind1 == OperandKind.Memory ? c.Read32(c.LinearAddress(ref d)) : c.XmmDword(Xmm1(ref d), 0);

    /// <summary>Operand 1 of an MMX instruction: an MMX register, or memory of the operand's size (m64; m32 for PUNPCKL*).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mm64(Processor c, ref DecodedInstruction d) =>
        d.Kind1 == OperandKind.Memory ? c.Read(c.LinearAddress(ref d), d.Size1) : c.ReadMmx(Mm1(ref d));

    /// <summary>Whether operand 1 is an MMX register (not memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool SourceIsMm(ref DecodedInstruction d) => d.Kind1 != OperandKind.Memory;

    /// <summary>An 8-bit immediate (the last operand).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Imm8(ref DecodedInstruction d) => (byte)d.Immediate;
}
