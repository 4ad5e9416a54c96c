using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// PSLLW/D/Q, PSRLW/D/Q, PSRAW/D by an immediate or by the low quadword of a register or memory
/// operand, in XMM and MMX forms, and PSLLDQ/PSRLDQ (bytes, XMM only). A count at or beyond the
/// element width clears each element (fills it with its sign for PSRA); .NET's shifts take the
/// count modulo the width, so those counts are handled here first.
/// </summary>
internal static unsafe class PackedShift
{
    /// <summary>Registers the XMM forms, or with <paramref name="mmxForms"/> the MMX ones.</summary>
    public static void Register(HandlerTable t, bool mmxForms)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            if (!SseInstructionSet.Includes(code) || SseInstructionSet.IsMmxForm(code) != mmxForms) continue;
            switch (code.Mnemonic())
            {
                case Mnemonic.Psllw: Add<LeftWords>(t, code); break;
                case Mnemonic.Pslld: Add<LeftDwords>(t, code); break;
                case Mnemonic.Psllq: Add<LeftQwords>(t, code); break;
                case Mnemonic.Psrlw: Add<RightWords>(t, code); break;
                case Mnemonic.Psrld: Add<RightDwords>(t, code); break;
                case Mnemonic.Psrlq: Add<RightQwords>(t, code); break;
                case Mnemonic.Psraw: Add<ArithmeticRightWords>(t, code); break;
                case Mnemonic.Psrad: Add<ArithmeticRightDwords>(t, code); break;
                case Mnemonic.Pslldq: Add<LeftBytes>(t, code); break;
                case Mnemonic.Psrldq: Add<RightBytes>(t, code); break;
            }
        }
    }

    private static void Add<T>(HandlerTable t, Code code) where T : struct, IShift
    {
        bool immediate = IsByImmediate(code);
        if (SseInstructionSet.IsMmxForm(code)) t.Add(code, immediate ? &MmxByImmediate<T> : &MmxByOperand<T>);
        else t.Add(code, immediate ? &XmmByImmediate<T> : &XmmByOperand<T>);
    }

    /// <summary>A shift by an immediate count (listed, not found by the name: see <see cref="SseInstructionSet.IsMmxForm"/>).</summary>
    internal static bool IsByImmediate(Code code) => code is Code.Psrlw_mm_imm8 or Code.Psrlw_xmm_imm8 or Code.Psraw_mm_imm8
        or Code.Psraw_xmm_imm8 or Code.Psllw_mm_imm8 or Code.Psllw_xmm_imm8 or Code.Psrld_mm_imm8 or Code.Psrld_xmm_imm8
        or Code.Psrad_mm_imm8 or Code.Psrad_xmm_imm8 or Code.Pslld_mm_imm8 or Code.Pslld_xmm_imm8 or Code.Psrlq_mm_imm8
        or Code.Psrlq_xmm_imm8 or Code.Psrldq_xmm_imm8 or Code.Psllq_mm_imm8 or Code.Psllq_xmm_imm8 or Code.Pslldq_xmm_imm8;

    private interface IShift
    {
        static abstract Vector128<byte> Shift(Vector128<byte> v, ulong count);
    }

    private struct LeftWords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 15 ? default : Vector128.ShiftLeft(v.AsUInt16(), (int)n).AsByte(); }
    private struct LeftDwords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 31 ? default : Vector128.ShiftLeft(v.AsUInt32(), (int)n).AsByte(); }
    private struct LeftQwords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 63 ? default : Vector128.ShiftLeft(v.AsUInt64(), (int)n).AsByte(); }
    private struct RightWords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 15 ? default : Vector128.ShiftRightLogical(v.AsUInt16(), (int)n).AsByte(); }
    private struct RightDwords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 31 ? default : Vector128.ShiftRightLogical(v.AsUInt32(), (int)n).AsByte(); }
    private struct RightQwords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => n > 63 ? default : Vector128.ShiftRightLogical(v.AsUInt64(), (int)n).AsByte(); }
    private struct ArithmeticRightWords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => Vector128.ShiftRightArithmetic(v.AsInt16(), (int)Math.Min(n, 15)).AsByte(); }
    private struct ArithmeticRightDwords : IShift { public static Vector128<byte> Shift(Vector128<byte> v, ulong n) => Vector128.ShiftRightArithmetic(v.AsInt32(), (int)Math.Min(n, 31)).AsByte(); }

    // Byte shifts as shuffles: an index past 15 selects zero.
    private struct LeftBytes : IShift
    {
        public static Vector128<byte> Shift(Vector128<byte> v, ulong n) =>
            n > 15 ? default : Vector128.Shuffle(v, Vector128<byte>.Indices - Vector128.Create((byte)n));
    }

    private struct RightBytes : IShift
    {
        public static Vector128<byte> Shift(Vector128<byte> v, ulong n) =>
            n > 15 ? default : Vector128.Shuffle(v, Vector128<byte>.Indices + Vector128.Create((byte)n));
    }

    private static bool XmmByImmediate<T>(Processor c, ref DecodedInstruction d) where T : struct, IShift
    {
        c.CheckSse();
        ref var v = ref c.XmmRegister(Xmm0(ref d));
        v = T.Shift(v, (ulong)Imm8(ref d));
        return true;
    }

    // The count is the source's whole low quadword; a memory source is still an aligned m128.
    private static bool XmmByOperand<T>(Processor c, ref DecodedInstruction d) where T : struct, IShift
    {
        c.CheckSse();
        ulong count = Xmm128(c, ref d).AsUInt64().GetElement(0);
        ref var v = ref c.XmmRegister(Xmm0(ref d));
        v = T.Shift(v, count);
        return true;
    }

    private static bool MmxByImmediate<T>(Processor c, ref DecodedInstruction d) where T : struct, IShift
    {
        c.CheckMmx();
        int dst = Mm0(ref d);
        c.WriteMmx(dst, T.Shift(Vector128.CreateScalar(c.ReadMmx(dst)).AsByte(), (ulong)Imm8(ref d)).AsUInt64().GetElement(0));
        return true;
    }

    private static bool MmxByOperand<T>(Processor c, ref DecodedInstruction d) where T : struct, IShift
    {
        c.CheckMmx();
        ulong count = Mm64(c, ref d);
        int dst = Mm0(ref d);
        c.WriteMmx(dst, T.Shift(Vector128.CreateScalar(c.ReadMmx(dst)).AsByte(), count).AsUInt64().GetElement(0));
        return true;
    }
}
