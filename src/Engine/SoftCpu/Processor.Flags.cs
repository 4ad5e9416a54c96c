using System.Numerics;
using System.Runtime.CompilerServices;

namespace VmReplay.Engine.SoftCpu;

/// <summary>The operation whose operands and result the arithmetic flags are computed from, on demand.</summary>
internal enum FlagOp : byte
{
    /// <summary>The arithmetic flags are materialised in RFLAGS.</summary>
    None,
    Add,
    Adc,
    Sub,
    Sbb,
    /// <summary>AND, OR, XOR, TEST: CF = OF = 0; AF is left clear, as processors do (the SDM leaves it undefined).</summary>
    Logic,
    Inc,
    Dec,
}

public sealed partial class Processor
{
    internal const ulong FlagCf = 1, FlagPf = 4, FlagAf = 0x10, FlagZf = 0x40, FlagSf = 0x80, FlagTf = 0x100, FlagIf = 0x200,
        FlagDf = 0x400, FlagOf = 0x800, FlagIopl = 0x3000, FlagNt = 0x4000, FlagRf = 0x10000, FlagVm = 0x20000, FlagAc = 0x40000,
        FlagVif = 0x80000, FlagVip = 0x100000, FlagId = 0x200000;
    internal const ulong ArithFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    // Lazy flags (as Bochs and QEMU keep them): the last flag-setting operation's operands and
    // result, turned into CF/PF/AF/ZF/SF/OF only when something reads them. Most results are
    // never looked at, and a CMP followed by Jcc reads one or two of them.
    private ulong _flags = 2;
    private FlagOp _fOp;
    private int _fBits;
    private ulong _fA, _fB, _fRes;
    private bool _fCarryIn;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLazy(FlagOp op, ulong a, ulong b, ulong result, int bits)
    {
        _fOp = op;
        _fA = a;
        _fB = b;
        _fRes = result;
        _fBits = bits;
    }

    /// <summary>ADC/SBB: like <see cref="SetLazy"/> with the carry that went in.</summary>
    internal void SetLazyWithCarry(FlagOp op, ulong a, ulong b, ulong result, int bits, bool carryIn)
    {
        _fCarryIn = carryIn;
        SetLazy(op, a, b, result, bits);
    }

    /// <summary>INC/DEC keep CF: it is taken now, from whatever set it before.</summary>
    internal void SetLazyIncDec(bool inc, ulong a, ulong result, int bits)
    {
        _fCarryIn = Cf;
        SetLazy(inc ? FlagOp.Inc : FlagOp.Dec, a, 1, result, bits);
    }

    internal LazyFlags SaveLazy() => new(_flags, _fOp, _fBits, _fA, _fB, _fRes, _fCarryIn);

    internal void RestoreLazy(LazyFlags f)
    {
        _flags = f.Flags; _fOp = f.Op; _fBits = f.Bits; _fA = f.A; _fB = f.B; _fRes = f.Result; _fCarryIn = f.CarryIn;
    }

    /// <summary>Sets the six arithmetic flags to <paramref name="bits"/> (an instruction that computes them itself).</summary>
    internal void SetArithFlags(ulong bits)
    {
        _flags = (_flags & ~ArithFlags) | (bits & ArithFlags);
        _fOp = FlagOp.None;
    }

    /// <summary>Changes only the flags in <paramref name="mask"/>; the others keep their (possibly lazy) values.</summary>
    internal void SetFlagsMasked(ulong mask, ulong bits)
    {
        Materialize();
        _flags = (_flags & ~mask) | (bits & mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mask(int bits) => bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;

    internal bool Cf
    {
        get
        {
            ulong m = Mask(_fBits);
            return _fOp switch
            {
                FlagOp.None => (_flags & FlagCf) != 0,
                FlagOp.Add => (_fRes & m) < (_fA & m),
                FlagOp.Adc => _fCarryIn ? (_fRes & m) <= (_fA & m) : (_fRes & m) < (_fA & m),
                FlagOp.Sub => (_fA & m) < (_fB & m),
                FlagOp.Sbb => _fCarryIn ? (_fA & m) <= (_fB & m) : (_fA & m) < (_fB & m),
                FlagOp.Inc or FlagOp.Dec => _fCarryIn,
                _ => false,
            };
        }
    }

    internal bool Zf => _fOp == FlagOp.None ? (_flags & FlagZf) != 0 : (_fRes & Mask(_fBits)) == 0;

    internal bool Sf => _fOp == FlagOp.None ? (_flags & FlagSf) != 0 : ((_fRes >> (_fBits - 1)) & 1) != 0;

    internal bool Pf => _fOp == FlagOp.None ? (_flags & FlagPf) != 0 : Parity((byte)_fRes);

    internal bool Of
    {
        get
        {
            ulong sign = 1UL << (_fBits - 1);
            return _fOp switch
            {
                FlagOp.None => (_flags & FlagOf) != 0,
                FlagOp.Add or FlagOp.Adc or FlagOp.Inc => ((_fA ^ _fRes) & (_fB ^ _fRes) & sign) != 0,
                FlagOp.Sub or FlagOp.Sbb or FlagOp.Dec => ((_fA ^ _fB) & (_fA ^ _fRes) & sign) != 0,
                _ => false,
            };
        }
    }

    internal bool Af => _fOp switch
    {
        FlagOp.None => (_flags & FlagAf) != 0,
        FlagOp.Logic => false,
        _ => ((_fA ^ _fB ^ _fRes) & 0x10) != 0,
    };

    internal bool Df => (_flags & FlagDf) != 0;

    internal static bool Parity(byte b) => (BitOperations.PopCount(b) & 1) == 0;

    /// <summary>Puts the lazy arithmetic flags into RFLAGS.</summary>
    internal void Materialize()
    {
        if (_fOp == FlagOp.None) return;
        ulong f = _flags & ~ArithFlags;
        if (Cf) f |= FlagCf;
        if (Pf) f |= FlagPf;
        if (Af) f |= FlagAf;
        if (Zf) f |= FlagZf;
        if (Sf) f |= FlagSf;
        if (Of) f |= FlagOf;
        _flags = f;
        _fOp = FlagOp.None;
    }

    /// <summary>RFLAGS as the guest would read it.</summary>
    internal ulong GetRflags()
    {
        Materialize();
        return _flags;
    }

    /// <summary>Sets RFLAGS as is (bit 1 forced); callers apply the privilege rules of POPF/IRET themselves.</summary>
    internal void SetRflagsRaw(ulong value)
    {
        bool vmChanged = ((value ^ _flags) & FlagVm) != 0;
        _flags = (value & 0x3F_7FD5) | 2;
        _fOp = FlagOp.None;
        if (vmChanged && Bitness != 0) ModeChanged();
    }

    internal bool InterruptsEnabled => (_flags & FlagIf) != 0;

    /// <summary>Jcc/SETcc/CMOVcc condition <paramref name="cc"/> (0 O, 1 NO, 2 B, ... 15 G, as the opcode's low nibble).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Condition(int cc)
    {
        if (_fOp == FlagOp.Sub) return SubCondition(cc);
        bool r = (cc >> 1) switch
        {
            0 => Of,
            1 => Cf,
            2 => Zf,
            3 => Cf || Zf,
            4 => Sf,
            5 => Pf,
            6 => Sf != Of,
            _ => Zf || Sf != Of,
        };
        return r ^ ((cc & 1) != 0);
    }

    // After CMP/SUB, the conditions are comparisons of the operands.
    private bool SubCondition(int cc)
    {
        int sh = 64 - _fBits;
        ulong a = (_fA << sh) >> sh, b = (_fB << sh) >> sh;
        long sa = (long)(_fA << sh) >> sh, sb = (long)(_fB << sh) >> sh;
        bool r = (cc >> 1) switch
        {
            0 => Of,
            1 => a < b,
            2 => a == b,
            3 => a <= b,
            4 => Sf,
            5 => Pf,
            6 => sa < sb,
            _ => sa <= sb,
        };
        return r ^ ((cc & 1) != 0);
    }
}

/// <summary>The lazy-flag record, saved so a faulting instruction can leave the flags as they were.</summary>
internal readonly record struct LazyFlags(ulong Flags, FlagOp Op, int Bits, ulong A, ulong B, ulong Result, bool CarryIn);
