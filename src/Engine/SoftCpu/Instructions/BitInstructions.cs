using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// BT, BTS, BTR, BTC (register and immediate bit offsets; with a memory operand, a register
/// offset is signed and may address any bit around it), BSF and BSR (SDM vol. 2A).
/// <see cref="SoftCpuModel"/> offers neither POPCNT nor ABM/BMI1, so, as on processors without
/// them, F3 0F BC and F3 0F BD (which Iced decodes as TZCNT and LZCNT) run as BSF and BSR with
/// the prefix ignored, and POPCNT (F3 0F B8) raises #UD.
/// Flags: the bit tests set CF only, and BSF/BSR ZF only; the flags the SDM leaves undefined keep their values.
/// </summary>
internal static unsafe class BitInstructions
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            if (code.Encoding() != EncodingKind.Legacy) continue;
            switch (code.Mnemonic())
            {
                case Mnemonic.Bt: t.Add(code, &BitTest<Test>); break;
                case Mnemonic.Bts: t.Add(code, &BitTest<Set>); break;
                case Mnemonic.Btr: t.Add(code, &BitTest<Reset>); break;
                case Mnemonic.Btc: t.Add(code, &BitTest<Complement>); break;
                case Mnemonic.Bsf or Mnemonic.Tzcnt: t.Add(code, &ScanForward); break;
                case Mnemonic.Bsr or Mnemonic.Lzcnt: t.Add(code, &ScanReverse); break;
                case Mnemonic.Popcnt: t.Add(code, &NotOffered); break;
            }
        }
    }

    /// <summary>What a bit test does to the bit it selected (<see cref="Test"/> leaves the operand alone).</summary>
    private interface IBitOp
    {
        static abstract bool Writes { get; }
        static abstract ulong Apply(ulong v, ulong bit);
    }

    private struct Test : IBitOp
    {
        public static bool Writes => false;
        public static ulong Apply(ulong v, ulong bit) => v;
    }

    private struct Set : IBitOp
    {
        public static bool Writes => true;
        public static ulong Apply(ulong v, ulong bit) => v | bit;
    }

    private struct Reset : IBitOp
    {
        public static bool Writes => true;
        public static ulong Apply(ulong v, ulong bit) => v & ~bit;
    }

    private struct Complement : IBitOp
    {
        public static bool Writes => true;
        public static ulong Apply(ulong v, ulong bit) => v ^ bit;
    }

    private static bool BitTest<T>(Processor c, ref DecodedInstruction d) where T : struct, IBitOp
    {
        int size = d.Size0, bits = size * 8;
        ulong offset = d.Kind1 == OperandKind.Register ? c.ReadReg(d.Reg1, size) : d.Immediate;
        if (d.Kind0 == OperandKind.Register)
        {
            ulong v = c.ReadReg(d.Reg0, size);
            ulong bit = 1UL << (int)(offset & (ulong)(bits - 1));
            if (T.Writes) c.WriteReg(d.Reg0, size, T.Apply(v, bit));
            SetCarry(c, (v & bit) != 0);
            return true;
        }
        ulong la;
        if (d.Kind1 == OperandKind.Register)
        {
            // A register offset is a signed bit string index: it selects the operand-sized unit
            // offset / size units away from the operand (SDM vol. 2A, BT, "bit base").
            long units = Processor.SignExtend(offset, size) >> BitOperations.Log2((uint)bits);
            la = c.Linear(d.Segment, (c.EffectiveAddress(ref d) + (ulong)(units * size)) & d.AddressMask);
        }
        else la = c.LinearAddress(ref d);
        ulong mask = 1UL << (int)(offset & (ulong)(bits - 1));
        ulong m = T.Writes ? c.ReadForWrite(la, size) : c.Read(la, size);
        if (T.Writes) c.Write(la, size, T.Apply(m, mask));
        SetCarry(c, (m & mask) != 0);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetCarry(Processor c, bool cf) => c.SetFlagsMasked(Processor.FlagCf, cf ? Processor.FlagCf : 0);

    /// <summary>BSF: the index of the lowest set bit; a zero source sets ZF and leaves the destination as it was.</summary>
    private static bool ScanForward(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong src = c.ReadOperand(ref d, 1, size);
        if (src == 0)
        {
            c.SetFlagsMasked(Processor.FlagZf, Processor.FlagZf);
            return true;
        }
        c.WriteReg(d.Reg0, size, (ulong)BitOperations.TrailingZeroCount(src));
        c.SetFlagsMasked(Processor.FlagZf, 0);
        return true;
    }

    /// <summary>BSR: the index of the highest set bit; a zero source as for BSF.</summary>
    private static bool ScanReverse(Processor c, ref DecodedInstruction d)
    {
        int size = d.Size0;
        ulong src = c.ReadOperand(ref d, 1, size);
        if (src == 0)
        {
            c.SetFlagsMasked(Processor.FlagZf, Processor.FlagZf);
            return true;
        }
        c.WriteReg(d.Reg0, size, (ulong)BitOperations.Log2(src));
        c.SetFlagsMasked(Processor.FlagZf, 0);
        return true;
    }

    // An instruction of a feature this processor does not offer: #UD, on purpose (not reported as missing).
    private static bool NotOffered(Processor c, ref DecodedInstruction d) => throw Processor.Ud();
}
