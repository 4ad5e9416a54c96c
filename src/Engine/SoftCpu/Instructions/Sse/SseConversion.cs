using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.SseFloat;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The SSE/SSE2 conversions (SDM vol. 2, CVT*): between singles, doubles and 32/64-bit signed
/// integers in general registers, XMM and MMX registers. Conversions to integers round by
/// MXCSR.RC, the CVTT forms toward zero; a NaN or out-of-range value gives the integer
/// indefinite (sign bit only) with #I. The forms with an MMX register operand make the x87
/// unit enter MMX state, even when they end in #XM (as the host processors do); from memory
/// they do not.
/// </summary>
internal static unsafe class SseConversion
{
    public static void Register(HandlerTable t)
    {
        t.Add([Code.Cvtsi2ss_xmm_rm32, Code.Cvtsi2ss_xmm_rm64], &Cvtsi2ss);
        t.Add([Code.Cvtsi2sd_xmm_rm32, Code.Cvtsi2sd_xmm_rm64], &Cvtsi2sd);
        t.Add([Code.Cvtss2si_r32_xmmm32, Code.Cvtss2si_r64_xmmm32], &SingleToInteger<ByMxcsr>);
        t.Add([Code.Cvttss2si_r32_xmmm32, Code.Cvttss2si_r64_xmmm32], &SingleToInteger<Truncating>);
        t.Add([Code.Cvtsd2si_r32_xmmm64, Code.Cvtsd2si_r64_xmmm64], &DoubleToInteger<ByMxcsr>);
        t.Add([Code.Cvttsd2si_r32_xmmm64, Code.Cvttsd2si_r64_xmmm64], &DoubleToInteger<Truncating>);
        t.Add(Code.Cvtss2sd_xmm_xmmm32, &Cvtss2sd);
        t.Add(Code.Cvtsd2ss_xmm_xmmm64, &Cvtsd2ss);
        t.Add(Code.Cvtps2pd_xmm_xmmm64, &Cvtps2pd);
        t.Add(Code.Cvtpd2ps_xmm_xmmm128, &Cvtpd2ps);
        t.Add(Code.Cvtdq2ps_xmm_xmmm128, &Cvtdq2ps);
        t.Add(Code.Cvtps2dq_xmm_xmmm128, &Cvtps2dq<ByMxcsr>);
        t.Add(Code.Cvttps2dq_xmm_xmmm128, &Cvtps2dq<Truncating>);
        t.Add(Code.Cvtdq2pd_xmm_xmmm64, &Cvtdq2pd);
        t.Add(Code.Cvtpd2dq_xmm_xmmm128, &Cvtpd2dq<ByMxcsr>);
        t.Add(Code.Cvttpd2dq_xmm_xmmm128, &Cvtpd2dq<Truncating>);
        t.Add(Code.Cvtpi2ps_xmm_mmm64, &Cvtpi2ps);
        t.Add(Code.Cvtpi2pd_xmm_mmm64, &Cvtpi2pd);
        t.Add(Code.Cvtps2pi_mm_xmmm64, &Cvtps2pi<ByMxcsr>);
        t.Add(Code.Cvttps2pi_mm_xmmm64, &Cvtps2pi<Truncating>);
        t.Add(Code.Cvtpd2pi_mm_xmmm128, &Cvtpd2pi<ByMxcsr>);
        t.Add(Code.Cvttpd2pi_mm_xmmm128, &Cvtpd2pi<Truncating>);
    }

    /// <summary>How a conversion to an integer rounds: by MXCSR.RC, or toward zero (the CVTT forms).</summary>
    private interface IIntegerRounding { static abstract Rounding Of(in FloatStatus status); }
    private struct ByMxcsr : IIntegerRounding { public static Rounding Of(in FloatStatus status) => status.Rounding; }
    private struct Truncating : IIntegerRounding { public static Rounding Of(in FloatStatus status) => Rounding.TowardZero; }

    private static uint ToInt32<F, R>(ulong v, ref FloatStatus status) where F : struct, IFloatFormat where R : struct, IIntegerRounding =>
        (uint)FloatConversion.ToInteger<F>(v, 32, R.Of(status), ref status);

    private static bool Cvtsi2ss(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var status = c.FloatStatus;
        uint r = d.Size1 == 8
            ? FloatConversion.Int64ToSingle((long)c.ReadOperand(ref d, 1, 8), ref status)
            : FloatConversion.Int32ToSingle((int)c.ReadOperand(ref d, 1, 4), ref status);
        c.CompleteFloat(in status);
        c.XmmDword(dst, 0) = r;
        return true;
    }

    private static bool Cvtsi2sd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var status = c.FloatStatus;
        ulong r = d.Size1 == 8
            ? FloatConversion.Int64ToDouble((long)c.ReadOperand(ref d, 1, 8), ref status)
            : FloatConversion.Int32ToDouble((int)c.ReadOperand(ref d, 1, 4));
        c.CompleteFloat(in status);
        c.XmmQword(dst, 0) = r;
        return true;
    }

    private static bool SingleToInteger<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        uint v = Xmm32(c, ref d);
        var status = c.FloatStatus;
        ulong r = FloatConversion.ToInteger<Binary32>(v, d.Size0 * 8, R.Of(status), ref status);
        c.CompleteFloat(in status);
        c.WriteReg(d.Reg0, d.Size0, r);
        return true;
    }

    private static bool DoubleToInteger<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        ulong v = Xmm64(c, ref d);
        var status = c.FloatStatus;
        ulong r = FloatConversion.ToInteger<Binary64>(v, d.Size0 * 8, R.Of(status), ref status);
        c.CompleteFloat(in status);
        c.WriteReg(d.Reg0, d.Size0, r);
        return true;
    }

    private static bool Cvtss2sd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        uint v = Xmm32(c, ref d);
        var status = c.FloatStatus;
        ulong r = FloatConversion.SingleToDouble(v, ref status);
        c.CompleteFloat(in status);
        c.XmmQword(dst, 0) = r;
        return true;
    }

    private static bool Cvtsd2ss(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        ulong v = Xmm64(c, ref d);
        var status = c.FloatStatus;
        uint r = FloatConversion.DoubleToSingle(v, ref status);
        c.CompleteFloat(in status);
        c.XmmDword(dst, 0) = r;
        return true;
    }

    private static bool Cvtps2pd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        ulong v = Xmm64(c, ref d);
        var status = c.FloatStatus;
        ulong r0 = FloatConversion.SingleToDouble((uint)v, ref status);
        ulong r1 = FloatConversion.SingleToDouble((uint)(v >> 32), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1).AsByte();
        return true;
    }

    private static bool Cvtpd2ps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var v = Xmm128(c, ref d).AsUInt64();
        var status = c.FloatStatus;
        uint r0 = FloatConversion.DoubleToSingle(v.GetElement(0), ref status);
        uint r1 = FloatConversion.DoubleToSingle(v.GetElement(1), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, 0, 0).AsByte();
        return true;
    }

    private static bool Cvtdq2ps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var v = Xmm128(c, ref d).AsInt32();
        var status = c.FloatStatus;
        uint r0 = FloatConversion.Int32ToSingle(v.GetElement(0), ref status);
        uint r1 = FloatConversion.Int32ToSingle(v.GetElement(1), ref status);
        uint r2 = FloatConversion.Int32ToSingle(v.GetElement(2), ref status);
        uint r3 = FloatConversion.Int32ToSingle(v.GetElement(3), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, r2, r3).AsByte();
        return true;
    }

    private static bool Cvtps2dq<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var v = Xmm128(c, ref d).AsUInt32();
        var status = c.FloatStatus;
        uint r0 = ToInt32<Binary32, R>(v.GetElement(0), ref status);
        uint r1 = ToInt32<Binary32, R>(v.GetElement(1), ref status);
        uint r2 = ToInt32<Binary32, R>(v.GetElement(2), ref status);
        uint r3 = ToInt32<Binary32, R>(v.GetElement(3), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, r2, r3).AsByte();
        return true;
    }

    // Exact, and without exceptions: every int32 is a double.
    private static bool Cvtdq2pd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        ulong v = Xmm64(c, ref d);
        c.XmmRegister(Xmm0(ref d)) = Vector128.Create(FloatConversion.Int32ToDouble((int)v), FloatConversion.Int32ToDouble((int)(v >> 32))).AsByte();
        return true;
    }

    private static bool Cvtpd2dq<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var v = Xmm128(c, ref d).AsUInt64();
        var status = c.FloatStatus;
        uint r0 = ToInt32<Binary64, R>(v.GetElement(0), ref status);
        uint r1 = ToInt32<Binary64, R>(v.GetElement(1), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, 0, 0).AsByte();
        return true;
    }

    // An MMX register operand: the SSE checks, then a pending x87 exception raises #MF.
    private static ulong ReadMmSource(Processor c, ref DecodedInstruction d)
    {
        if (!SourceIsMm(ref d)) return c.Read64(c.LinearAddress(ref d));
        c.CheckMmx();
        return c.ReadMmx(Mm1(ref d));
    }

    private static bool Cvtpi2ps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        ulong v = ReadMmSource(c, ref d);
        var status = c.FloatStatus;
        uint r0 = FloatConversion.Int32ToSingle((int)v, ref status);
        uint r1 = FloatConversion.Int32ToSingle((int)(v >> 32), ref status);
        if (SourceIsMm(ref d)) c.EnterMmx();
        c.CompleteFloat(in status);
        c.XmmQword(dst, 0) = r0 | (ulong)r1 << 32;
        return true;
    }

    private static bool Cvtpi2pd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        ulong v = ReadMmSource(c, ref d);
        c.XmmRegister(Xmm0(ref d)) = Vector128.Create(FloatConversion.Int32ToDouble((int)v), FloatConversion.Int32ToDouble((int)(v >> 32))).AsByte();
        if (SourceIsMm(ref d)) c.EnterMmx();
        return true;
    }

    private static bool Cvtps2pi<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        c.CheckMmx();
        ulong v = Xmm64(c, ref d);
        var status = c.FloatStatus;
        uint r0 = ToInt32<Binary32, R>((uint)v, ref status);
        uint r1 = ToInt32<Binary32, R>((uint)(v >> 32), ref status);
        c.EnterMmx();
        c.CompleteFloat(in status);
        c.WriteMmx(Mm0(ref d), r0 | (ulong)r1 << 32);
        return true;
    }

    private static bool Cvtpd2pi<R>(Processor c, ref DecodedInstruction d) where R : struct, IIntegerRounding
    {
        c.CheckSse();
        c.CheckMmx();
        var v = Xmm128(c, ref d).AsUInt64();
        var status = c.FloatStatus;
        uint r0 = ToInt32<Binary64, R>(v.GetElement(0), ref status);
        uint r1 = ToInt32<Binary64, R>(v.GetElement(1), ref status);
        c.EnterMmx();
        c.CompleteFloat(in status);
        c.WriteMmx(Mm0(ref d), r0 | (ulong)r1 << 32);
        return true;
    }
}
