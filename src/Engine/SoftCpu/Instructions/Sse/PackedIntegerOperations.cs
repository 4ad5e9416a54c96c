using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// One packed integer operation of two 128-bit operands (a: the destination, b: the source).
/// The MMX form of an operation applies it to its 64-bit operands in the low halves and keeps
/// the low half of the result, which is exact for operations on independent lanes; the
/// operations that move data across halves (unpacking the high halves, packing) have MMX forms
/// of their own (<see cref="PackedIntegerOperations"/>).
/// </summary>
internal interface IPackedIntegerOperation
{
    static abstract Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b);
}

/// <summary>
/// The SSE2 and MMX packed integer operations (SDM vol. 2): portable <see cref="Vector128"/>
/// operations where .NET has an exact one, SSE2 intrinsics with a scalar equivalent elsewhere.
/// </summary>
internal static class PackedIntegerOperations
{
    public struct AddBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => a + b; }
    public struct AddWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt16() + b.AsUInt16()).AsByte(); }
    public struct AddDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt32() + b.AsUInt32()).AsByte(); }
    public struct AddQwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt64() + b.AsUInt64()).AsByte(); }
    public struct SubtractBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => a - b; }
    public struct SubtractWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt16() - b.AsUInt16()).AsByte(); }
    public struct SubtractDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt32() - b.AsUInt32()).AsByte(); }
    public struct SubtractQwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsUInt64() - b.AsUInt64()).AsByte(); }

    public struct AddSignedSaturateBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.AddSaturate(a.AsSByte(), b.AsSByte()).AsByte(); }
    public struct AddSignedSaturateWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.AddSaturate(a.AsInt16(), b.AsInt16()).AsByte(); }
    public struct AddUnsignedSaturateBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.AddSaturate(a, b); }
    public struct AddUnsignedSaturateWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.AddSaturate(a.AsUInt16(), b.AsUInt16()).AsByte(); }
    public struct SubtractSignedSaturateBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.SubtractSaturate(a.AsSByte(), b.AsSByte()).AsByte(); }
    public struct SubtractSignedSaturateWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.SubtractSaturate(a.AsInt16(), b.AsInt16()).AsByte(); }
    public struct SubtractUnsignedSaturateBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.SubtractSaturate(a, b); }
    public struct SubtractUnsignedSaturateWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.SubtractSaturate(a.AsUInt16(), b.AsUInt16()).AsByte(); }

    /// <summary>PMULLW: the low 16 bits of each product.</summary>
    public struct MultiplyLowWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a.AsInt16() * b.AsInt16()).AsByte(); }

    /// <summary>PMULHW: the high 16 bits of each signed product.</summary>
    public struct MultiplyHighSignedWords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            if (Sse2.IsSupported) return Sse2.MultiplyHigh(a.AsInt16(), b.AsInt16()).AsByte();
            var (al, ah) = Vector128.Widen(a.AsInt16());
            var (bl, bh) = Vector128.Widen(b.AsInt16());
            return Vector128.Narrow(Vector128.ShiftRightArithmetic(al * bl, 16), Vector128.ShiftRightArithmetic(ah * bh, 16)).AsByte();
        }
    }

    /// <summary>PMULHUW: the high 16 bits of each unsigned product.</summary>
    public struct MultiplyHighUnsignedWords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            if (Sse2.IsSupported) return Sse2.MultiplyHigh(a.AsUInt16(), b.AsUInt16()).AsByte();
            var (al, ah) = Vector128.Widen(a.AsUInt16());
            var (bl, bh) = Vector128.Widen(b.AsUInt16());
            return Vector128.Narrow(Vector128.ShiftRightLogical(al * bl, 16), Vector128.ShiftRightLogical(ah * bh, 16)).AsByte();
        }
    }

    /// <summary>PMULUDQ: the unsigned 64-bit products of the low doublewords of each quadword.</summary>
    public struct MultiplyUnsignedDwords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            var low = Vector128.Create(0xFFFF_FFFFUL);
            return ((a.AsUInt64() & low) * (b.AsUInt64() & low)).AsByte();
        }
    }

    /// <summary>PMADDWD: signed word products, adjacent pairs summed into doublewords (0x8000·0x8000 twice wraps to 0x80000000).</summary>
    public struct MultiplyAddWords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            if (Sse2.IsSupported) return Sse2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16()).AsByte();
            var x = a.AsInt16();
            var y = b.AsInt16();
            return Vector128.Create(
                unchecked(x[0] * y[0] + x[1] * y[1]), unchecked(x[2] * y[2] + x[3] * y[3]),
                unchecked(x[4] * y[4] + x[5] * y[5]), unchecked(x[6] * y[6] + x[7] * y[7])).AsByte();
        }
    }

    /// <summary>PAVGB: (a + b + 1) / 2 without overflow.</summary>
    public struct AverageBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (a | b) - Vector128.ShiftRightLogical(a ^ b, 1); }
    public struct AverageWords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) =>
            ((a.AsUInt16() | b.AsUInt16()) - Vector128.ShiftRightLogical(a.AsUInt16() ^ b.AsUInt16(), 1)).AsByte();
    }

    public struct MinimumUnsignedBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Min(a, b); }
    public struct MaximumUnsignedBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Max(a, b); }
    public struct MinimumSignedWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Min(a.AsInt16(), b.AsInt16()).AsByte(); }
    public struct MaximumSignedWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Max(a.AsInt16(), b.AsInt16()).AsByte(); }

    /// <summary>PSADBW: the sum of absolute byte differences of each quadword, in its low word.</summary>
    public struct SumAbsoluteDifferences : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            if (Sse2.IsSupported) return Sse2.SumAbsoluteDifferences(a, b).AsByte();
            var difference = Vector128.Max(a, b) - Vector128.Min(a, b);
            ulong low = 0, high = 0;
            for (int i = 0; i < 8; i++)
            {
                low += difference[i];
                high += difference[i + 8];
            }
            return Vector128.Create(low, high).AsByte();
        }
    }

    public struct EqualBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Equals(a, b); }
    public struct EqualWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Equals(a.AsUInt16(), b.AsUInt16()).AsByte(); }
    public struct EqualDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsByte(); }
    public struct GreaterBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.GreaterThan(a.AsSByte(), b.AsSByte()).AsByte(); }
    public struct GreaterWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.GreaterThan(a.AsInt16(), b.AsInt16()).AsByte(); }
    public struct GreaterDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.GreaterThan(a.AsInt32(), b.AsInt32()).AsByte(); }

    /// <summary>PAND, ANDPS, ANDPD.</summary>
    public struct And : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => a & b; }
    /// <summary>PANDN, ANDNPS, ANDNPD: the destination is the one inverted.</summary>
    public struct AndNot : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.AndNot(b, a); }
    public struct Or : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => a | b; }
    public struct Xor : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => a ^ b; }

    /// <summary>PACKSSWB: the words of a, then of b, to signed bytes with saturation.</summary>
    public struct PackSignedWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.NarrowWithSaturation(a.AsInt16(), b.AsInt16()).AsByte(); }
    /// <summary>PACKSSDW: doublewords to signed words with saturation.</summary>
    public struct PackSignedDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.NarrowWithSaturation(a.AsInt32(), b.AsInt32()).AsByte(); }
    /// <summary>PACKUSWB: signed words to unsigned bytes with saturation.</summary>
    public struct PackUnsignedWords : IPackedIntegerOperation
    {
        public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b)
        {
            var max = Vector128.Create((short)255);
            return Vector128.Narrow(
                Vector128.Clamp(a.AsInt16(), Vector128<short>.Zero, max).AsUInt16(),
                Vector128.Clamp(b.AsInt16(), Vector128<short>.Zero, max).AsUInt16());
        }
    }

    // Interleaving as widening: a's element in the low half of each double-width lane, b's above it.
    public struct UnpackLowBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenLower(a) | (Vector128.WidenLower(b) << 8)).AsByte(); }
    public struct UnpackHighBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenUpper(a) | (Vector128.WidenUpper(b) << 8)).AsByte(); }
    public struct UnpackLowWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenLower(a.AsUInt16()) | (Vector128.WidenLower(b.AsUInt16()) << 16)).AsByte(); }
    public struct UnpackHighWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenUpper(a.AsUInt16()) | (Vector128.WidenUpper(b.AsUInt16()) << 16)).AsByte(); }
    public struct UnpackLowDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenLower(a.AsUInt32()) | (Vector128.WidenLower(b.AsUInt32()) << 32)).AsByte(); }
    public struct UnpackHighDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => (Vector128.WidenUpper(a.AsUInt32()) | (Vector128.WidenUpper(b.AsUInt32()) << 32)).AsByte(); }
    public struct UnpackLowQwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Create(a.AsUInt64().GetElement(0), b.AsUInt64().GetElement(0)).AsByte(); }
    public struct UnpackHighQwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => Vector128.Create(a.AsUInt64().GetElement(1), b.AsUInt64().GetElement(1)).AsByte(); }

    // MMX forms that cross the 64-bit halves: PUNPCKH* interleaves the high doublewords of the
    // 64-bit operands, PACK* packs a and b as one 128-bit source.
    public struct MmxUnpackHighBytes : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => UnpackLowBytes.Apply(High32(a), High32(b)); }
    public struct MmxUnpackHighWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => UnpackLowWords.Apply(High32(a), High32(b)); }
    public struct MmxUnpackHighDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => UnpackLowDwords.Apply(High32(a), High32(b)); }
    public struct MmxPackSignedWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => PackSignedWords.Apply(Join(a, b), Join(a, b)); }
    public struct MmxPackSignedDwords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => PackSignedDwords.Apply(Join(a, b), Join(a, b)); }
    public struct MmxPackUnsignedWords : IPackedIntegerOperation { public static Vector128<byte> Apply(Vector128<byte> a, Vector128<byte> b) => PackUnsignedWords.Apply(Join(a, b), Join(a, b)); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> High32(Vector128<byte> v) => Vector128.CreateScalar(v.AsUInt64().GetElement(0) >> 32).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Join(Vector128<byte> low, Vector128<byte> high) => Vector128.Create(low.AsUInt64().GetElement(0), high.AsUInt64().GetElement(0)).AsByte();
}
