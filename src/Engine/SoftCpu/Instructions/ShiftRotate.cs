using System.Runtime.CompilerServices;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR (by 1, CL and imm8, every size) and SHLD/SHRD (SDM vol.
/// 2B). The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes
/// neither the operand nor the flags. Where the SDM leaves a flag undefined (OF for counts above
/// 1, AF, CF of SHL/SHR by the width or more) this processor gives the count-1 formula's value,
/// AF clear, and CF clear, so the result is the same on every host.
/// </summary>
internal static unsafe class ShiftRotate
{
    public static void Register(HandlerTable t)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            switch (code.Mnemonic())
            {
                case Mnemonic.Shl or Mnemonic.Sal: t.Add(code, &Shift<Shl>); break;
                case Mnemonic.Shr: t.Add(code, &Shift<Shr>); break;
                case Mnemonic.Sar: t.Add(code, &Shift<Sar>); break;
                case Mnemonic.Rol: t.Add(code, &Shift<Rol>); break;
                case Mnemonic.Ror: t.Add(code, &Shift<Ror>); break;
                case Mnemonic.Rcl: t.Add(code, &Shift<Rcl>); break;
                case Mnemonic.Rcr: t.Add(code, &Shift<Rcr>); break;
                case Mnemonic.Shld: t.Add(code, &DoubleShift<Left>); break;
                case Mnemonic.Shrd: t.Add(code, &DoubleShift<Right>); break;
            }
        }
    }

    /// <summary>
    /// One shift or rotate of <paramref name="v"/> (zero above <paramref name="bits"/>) by a
    /// masked count 1-63: the result, and in <paramref name="flags"/> the new values of the flags
    /// in <see cref="Changes"/>.
    /// </summary>
    private interface IShiftOp
    {
        static abstract ulong Changes { get; }
        static abstract ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags);
    }

    private const ulong Cf = Processor.FlagCf, Of = Processor.FlagOf;
    private const ulong AllArith = Processor.ArithFlags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Msb(ulong v, int bits) => (v >> (bits - 1)) & 1;

    /// <summary>ZF, SF and PF of <paramref name="r"/> (zero above <paramref name="bits"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ResultFlags(ulong r, int bits)
    {
        ulong f = Msb(r, bits) != 0 ? Processor.FlagSf : 0;
        if (r == 0) f |= Processor.FlagZf;
        if (Processor.Parity((byte)r)) f |= Processor.FlagPf;
        return f;
    }

    private struct Shl : IShiftOp
    {
        public static ulong Changes => AllArith;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            ulong r = count < bits ? (v << count) & Processor.SizeMask(bits / 8) : 0;
            ulong cf = count <= bits ? (v >> (bits - count)) & 1 : 0;
            flags = ResultFlags(r, bits) | cf | ((Msb(r, bits) ^ cf) != 0 ? Of : 0);
            return r;
        }
    }

    private struct Shr : IShiftOp
    {
        public static ulong Changes => AllArith;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            ulong r = count < bits ? v >> count : 0;
            ulong cf = count <= bits ? (v >> (count - 1)) & 1 : 0;
            flags = ResultFlags(r, bits) | cf | (Msb(v, bits) != 0 ? Of : 0);
            return r;
        }
    }

    private struct Sar : IShiftOp
    {
        public static ulong Changes => AllArith;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            long s = (long)(v << (64 - bits)) >> (64 - bits);
            // Counts beyond the width fill with the sign, CF included.
            int n = Math.Min(count, bits);
            ulong r = (ulong)(s >> Math.Min(n, 63)) & Processor.SizeMask(bits / 8);
            ulong cf = (ulong)(s >> (n - 1)) & 1;
            flags = ResultFlags(r, bits) | cf;
            return r;
        }
    }

    private struct Rol : IShiftOp
    {
        public static ulong Changes => Cf | Of;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            int n = count & (bits - 1);
            ulong r = n == 0 ? v : ((v << n) | (v >> (bits - n))) & Processor.SizeMask(bits / 8);
            ulong cf = r & 1;
            flags = cf | ((Msb(r, bits) ^ cf) != 0 ? Of : 0);
            return r;
        }
    }

    private struct Ror : IShiftOp
    {
        public static ulong Changes => Cf | Of;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            int n = count & (bits - 1);
            ulong r = n == 0 ? v : ((v >> n) | (v << (bits - n))) & Processor.SizeMask(bits / 8);
            ulong msb = Msb(r, bits);
            flags = msb | ((msb ^ Msb(r, bits - 1)) != 0 ? Of : 0);
            return r;
        }
    }

    // RCL and RCR rotate the operand and CF together, a bits+1-wide value; 8- and 16-bit
    // counts are taken modulo 9 and 17 (a count that comes to 0 changes nothing, flags included).
    private struct Rcl : IShiftOp
    {
        public static ulong Changes => Cf | Of;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            int n = bits < 32 ? count % (bits + 1) : count;
            ulong c = carry ? 1UL : 0;
            if (n == 0)
            {
                flags = c | ((Msb(v, bits) ^ c) != 0 ? Of : 0);
                return v;
            }
            // Bits of v leave at the top: bit bits-n goes to CF, those above it wrap round below CF's old value.
            ulong r = (n < bits ? v << n : 0) | (c << (n - 1)) | (n > 1 ? v >> (bits + 1 - n) : 0);
            r &= Processor.SizeMask(bits / 8);
            ulong cf = (v >> (bits - n)) & 1;
            flags = cf | ((Msb(r, bits) ^ cf) != 0 ? Of : 0);
            return r;
        }
    }

    private struct Rcr : IShiftOp
    {
        public static ulong Changes => Cf | Of;
        public static ulong Apply(ulong v, int count, int bits, bool carry, out ulong flags)
        {
            int n = bits < 32 ? count % (bits + 1) : count;
            ulong c = carry ? 1UL : 0;
            if (n == 0)
            {
                flags = c | ((Msb(v, bits) ^ c) != 0 ? Of : 0);
                return v;
            }
            ulong r = (n < bits ? v >> n : 0) | (c << (bits - n)) | (n > 1 ? v << (bits + 1 - n) : 0);
            r &= Processor.SizeMask(bits / 8);
            ulong cf = (v >> (n - 1)) & 1;
            flags = cf | ((Msb(r, bits) ^ Msb(r, bits - 1)) != 0 ? Of : 0);
            return r;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CountOf(Processor c, ref DecodedInstruction d, OperandKind kind) =>
        kind == OperandKind.Immediate ? (int)(byte)d.Immediate : (byte)c.R(Processor.Rcx);

    private static bool Shift<T>(Processor c, ref DecodedInstruction d) where T : struct, IShiftOp
    {
        int size = d.Size0, bits = size * 8;
        int count = CountOf(c, ref d, d.Kind1) & (size == 8 ? 63 : 31);
        if (d.Kind0 == OperandKind.Register)
        {
            ulong v = c.ReadReg(d.Reg0, size);
            if (count == 0)
            {
                // Nothing changes, but a 32-bit register is still written (bits 63:32 cleared).
                if (size == 4) c.WriteReg(d.Reg0, 4, v);
                return true;
            }
            ulong r = T.Apply(v, count, bits, c.Cf, out ulong flags);
            c.WriteReg(d.Reg0, size, r);
            SetFlags<T>(c, flags);
            return true;
        }
        ulong la = c.LinearAddress(ref d);
        ulong m = c.ReadForWrite(la, size);
        if (count == 0) return true;
        ulong res = T.Apply(m, count, bits, c.Cf, out ulong f);
        c.Write(la, size, res);
        SetFlags<T>(c, f);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetFlags<T>(Processor c, ulong flags) where T : struct, IShiftOp
    {
        if (T.Changes == AllArith) c.SetArithFlags(flags);
        else c.SetFlagsMasked(T.Changes, flags);
    }

    private interface IDirection { static abstract bool IsLeft { get; } }
    private struct Left : IDirection { public static bool IsLeft => true; }
    private struct Right : IDirection { public static bool IsLeft => false; }

    /// <summary>
    /// SHLD/SHRD: the destination shifted, its vacated bits filled from the source register.
    /// </summary>
    private static bool DoubleShift<T>(Processor c, ref DecodedInstruction d) where T : struct, IDirection
    {
        int size = d.Size0, bits = size * 8;
        int count = CountOf(c, ref d, d.Kind2) & (size == 8 ? 63 : 31);
        ulong src = c.ReadReg(d.Reg1, size);
        ulong flags;
        if (d.Kind0 == OperandKind.Register)
        {
            ulong v = c.ReadReg(d.Reg0, size);
            if (count == 0)
            {
                if (size == 4) c.WriteReg(d.Reg0, 4, v);
                return true;
            }
            c.WriteReg(d.Reg0, size, DoubleShiftOf<T>(v, src, count, bits, out flags));
        }
        else
        {
            ulong la = c.LinearAddress(ref d);
            ulong m = c.ReadForWrite(la, size);
            if (count == 0) return true;
            c.Write(la, size, DoubleShiftOf<T>(m, src, count, bits, out flags));
        }
        c.SetArithFlags(flags);
        return true;
    }

    private static ulong DoubleShiftOf<T>(ulong v, ulong src, int count, int bits, out ulong flags) where T : struct, IDirection
    {
        ulong r, cf;
        if (bits == 16)
        {
            // Within dest:src:dest as one 48-bit value: the SDM's result for counts up to 16;
            // 17-31, undefined in the SDM, continue into the second copy of the destination, as
            // P6-and-later Intel processors do (AMD ones, like the test host, shift dest:src:src).
            ulong wide = (v << 32) | (src << 16) | v;
            if (T.IsLeft)
            {
                r = (wide << count >> 32) & 0xFFFF;
                cf = (wide >> (48 - count)) & 1;
            }
            else
            {
                r = (wide >> count) & 0xFFFF;
                cf = (wide >> (count - 1)) & 1;
            }
        }
        else if (T.IsLeft)
        {
            r = ((v << count) | (src >> (bits - count))) & Processor.SizeMask(bits / 8);
            cf = (v >> (bits - count)) & 1;
        }
        else
        {
            r = ((v >> count) | (src << (bits - count))) & Processor.SizeMask(bits / 8);
            cf = (v >> (count - 1)) & 1;
        }
        flags = ResultFlags(r, bits) | cf | ((Msb(r, bits) ^ Msb(v, bits)) != 0 ? Of : 0);
        return r;
    }
}
