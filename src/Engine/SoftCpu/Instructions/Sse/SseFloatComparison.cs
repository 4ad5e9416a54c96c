using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.SseFloat;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// CMPPS/CMPSS/CMPPD/CMPSD with the eight legacy predicates (the immediate's low three bits:
/// EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD; all ones or zeros per element) and
/// COMISS/UCOMISS/COMISD/UCOMISD (ZF, PF, CF from the relation, OF, SF, AF cleared). COMIS
/// raises #I for any NaN, UCOMIS only for an SNaN.
/// </summary>
internal static unsafe class SseFloatComparison
{
    public static void Register(HandlerTable t)
    {
        t.Add(Code.Cmpps_xmm_xmmm128_imm8, &Cmpps);
        t.Add(Code.Cmpss_xmm_xmmm32_imm8, &Cmpss);
        t.Add(Code.Cmppd_xmm_xmmm128_imm8, &Cmppd);
        t.Add(Code.Cmpsd_xmm_xmmm64_imm8, &Cmpsd);
        t.Add(Code.Comiss_xmm_xmmm32, &CompareSingle<Signaling>);
        t.Add(Code.Ucomiss_xmm_xmmm32, &CompareSingle<Quiet>);
        t.Add(Code.Comisd_xmm_xmmm64, &CompareDouble<Signaling>);
        t.Add(Code.Ucomisd_xmm_xmmm64, &CompareDouble<Quiet>);
    }

    private static uint Mask32(bool v) => v ? uint.MaxValue : 0;

    private static ulong Mask64(bool v) => v ? ulong.MaxValue : 0;

    private static bool Cmpps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d), predicate = Imm8(ref d) & 7;
        var b = Xmm128(c, ref d).AsUInt32();
        var a = c.XmmRegister(dst).AsUInt32();
        var status = c.FloatStatus;
        uint r0 = Mask32(FloatComparison<Binary32>.Predicate(a.GetElement(0), b.GetElement(0), predicate, ref status));
        uint r1 = Mask32(FloatComparison<Binary32>.Predicate(a.GetElement(1), b.GetElement(1), predicate, ref status));
        uint r2 = Mask32(FloatComparison<Binary32>.Predicate(a.GetElement(2), b.GetElement(2), predicate, ref status));
        uint r3 = Mask32(FloatComparison<Binary32>.Predicate(a.GetElement(3), b.GetElement(3), predicate, ref status));
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, r2, r3).AsByte();
        return true;
    }

    private static bool Cmpss(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        uint b = Xmm32(c, ref d);
        var status = c.FloatStatus;
        uint r = Mask32(FloatComparison<Binary32>.Predicate(c.XmmDword(dst, 0), b, Imm8(ref d) & 7, ref status));
        c.CompleteFloat(in status);
        c.XmmDword(dst, 0) = r;
        return true;
    }

    private static bool Cmppd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d), predicate = Imm8(ref d) & 7;
        var b = Xmm128(c, ref d).AsUInt64();
        var a = c.XmmRegister(dst).AsUInt64();
        var status = c.FloatStatus;
        ulong r0 = Mask64(FloatComparison<Binary64>.Predicate(a.GetElement(0), b.GetElement(0), predicate, ref status));
        ulong r1 = Mask64(FloatComparison<Binary64>.Predicate(a.GetElement(1), b.GetElement(1), predicate, ref status));
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1).AsByte();
        return true;
    }

    private static bool Cmpsd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        ulong b = Xmm64(c, ref d);
        var status = c.FloatStatus;
        ulong r = Mask64(FloatComparison<Binary64>.Predicate(c.XmmQword(dst, 0), b, Imm8(ref d) & 7, ref status));
        c.CompleteFloat(in status);
        c.XmmQword(dst, 0) = r;
        return true;
    }

    /// <summary>Whether a QNaN operand raises #I (COMIS) or not (UCOMIS).</summary>
    private interface INaNSignaling { static abstract bool OnQuietNaN { get; } }
    private struct Signaling : INaNSignaling { public static bool OnQuietNaN => true; }
    private struct Quiet : INaNSignaling { public static bool OnQuietNaN => false; }

    private static bool CompareSingle<T>(Processor c, ref DecodedInstruction d) where T : struct, INaNSignaling
    {
        c.CheckSse();
        uint b = Xmm32(c, ref d);
        var status = c.FloatStatus;
        var relation = FloatComparison<Binary32>.Compare(c.XmmDword(Xmm0(ref d), 0), b, T.OnQuietNaN, ref status);
        c.CompleteFloat(in status);
        SetFlags(c, relation);
        return true;
    }

    private static bool CompareDouble<T>(Processor c, ref DecodedInstruction d) where T : struct, INaNSignaling
    {
        c.CheckSse();
        ulong b = Xmm64(c, ref d);
        var status = c.FloatStatus;
        var relation = FloatComparison<Binary64>.Compare(c.XmmQword(Xmm0(ref d), 0), b, T.OnQuietNaN, ref status);
        c.CompleteFloat(in status);
        SetFlags(c, relation);
        return true;
    }

    private static void SetFlags(Processor c, FloatRelation relation) => c.SetArithFlags(relation switch
    {
        FloatRelation.Unordered => Processor.FlagZf | Processor.FlagPf | Processor.FlagCf,
        FloatRelation.Less => Processor.FlagCf,
        FloatRelation.Equal => Processor.FlagZf,
        _ => 0,
    });
}
