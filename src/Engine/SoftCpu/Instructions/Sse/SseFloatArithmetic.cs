using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.SseFloat;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// ADD, SUB, MUL, DIV, SQRT, MIN, MAX in PS/SS/PD/SD forms and RCPPS/RCPSS/RSQRTPS/RSQRTSS
/// (SDM vol. 2), element by element through the SseFloat arithmetic. Packed forms take an aligned
/// m128, scalar forms m32/m64 and keep the destination's other elements. Flags of all elements
/// are gathered first: an unmasked exception leaves the destination unchanged (<see cref="Processor.CompleteFloat"/>).
/// </summary>
internal static unsafe class SseFloatArithmetic
{
    public static void Register(HandlerTable t)
    {
        Add<AddOp>(t, Code.Addps_xmm_xmmm128, Code.Addss_xmm_xmmm32, Code.Addpd_xmm_xmmm128, Code.Addsd_xmm_xmmm64);
        Add<SubtractOp>(t, Code.Subps_xmm_xmmm128, Code.Subss_xmm_xmmm32, Code.Subpd_xmm_xmmm128, Code.Subsd_xmm_xmmm64);
        Add<MultiplyOp>(t, Code.Mulps_xmm_xmmm128, Code.Mulss_xmm_xmmm32, Code.Mulpd_xmm_xmmm128, Code.Mulsd_xmm_xmmm64);
        Add<DivideOp>(t, Code.Divps_xmm_xmmm128, Code.Divss_xmm_xmmm32, Code.Divpd_xmm_xmmm128, Code.Divsd_xmm_xmmm64);
        Add<SquareRootOp>(t, Code.Sqrtps_xmm_xmmm128, Code.Sqrtss_xmm_xmmm32, Code.Sqrtpd_xmm_xmmm128, Code.Sqrtsd_xmm_xmmm64);
        Add<MinimumOp>(t, Code.Minps_xmm_xmmm128, Code.Minss_xmm_xmmm32, Code.Minpd_xmm_xmmm128, Code.Minsd_xmm_xmmm64);
        Add<MaximumOp>(t, Code.Maxps_xmm_xmmm128, Code.Maxss_xmm_xmmm32, Code.Maxpd_xmm_xmmm128, Code.Maxsd_xmm_xmmm64);
        t.Add(Code.Rcpps_xmm_xmmm128, &PackedSingle<ReciprocalOp>);
        t.Add(Code.Rcpss_xmm_xmmm32, &ScalarSingle<ReciprocalOp>);
        t.Add(Code.Rsqrtps_xmm_xmmm128, &PackedSingle<ReciprocalSquareRootOp>);
        t.Add(Code.Rsqrtss_xmm_xmmm32, &ScalarSingle<ReciprocalSquareRootOp>);
    }

    private static void Add<T>(HandlerTable t, Code ps, Code ss, Code pd, Code sd) where T : struct, IFloatOperation
    {
        t.Add(ps, &PackedSingle<T>);
        t.Add(ss, &ScalarSingle<T>);
        t.Add(pd, &PackedDouble<T>);
        t.Add(sd, &ScalarDouble<T>);
    }

    /// <summary>One element's operation: a is the destination's element, b the source's (a unary operation ignores a).</summary>
    private interface IFloatOperation
    {
        static abstract uint Single(uint a, uint b, ref FloatStatus status);
        static abstract ulong Double(ulong a, ulong b, ref FloatStatus status);
    }

    private struct AddOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => SingleArithmetic.Add(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => DoubleArithmetic.Add(a, b, ref s);
    }

    private struct SubtractOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => SingleArithmetic.Subtract(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => DoubleArithmetic.Subtract(a, b, ref s);
    }

    private struct MultiplyOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => SingleArithmetic.Multiply(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => DoubleArithmetic.Multiply(a, b, ref s);
    }

    private struct DivideOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => SingleArithmetic.Divide(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => DoubleArithmetic.Divide(a, b, ref s);
    }

    private struct SquareRootOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => SingleArithmetic.SquareRoot(b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => DoubleArithmetic.SquareRoot(b, ref s);
    }

    private struct MinimumOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => (uint)FloatComparison<Binary32>.Minimum(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => FloatComparison<Binary64>.Minimum(a, b, ref s);
    }

    private struct MaximumOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => (uint)FloatComparison<Binary32>.Maximum(a, b, ref s);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => FloatComparison<Binary64>.Maximum(a, b, ref s);
    }

    private struct ReciprocalOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => ReciprocalEstimate.Reciprocal(b);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => throw new InvalidOperationException("no double-precision reciprocal estimate");
    }

    private struct ReciprocalSquareRootOp : IFloatOperation
    {
        public static uint Single(uint a, uint b, ref FloatStatus s) => ReciprocalEstimate.ReciprocalSquareRoot(b);
        public static ulong Double(ulong a, ulong b, ref FloatStatus s) => throw new InvalidOperationException("no double-precision reciprocal estimate");
    }

    private static bool PackedSingle<T>(Processor c, ref DecodedInstruction d) where T : struct, IFloatOperation
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var b = Xmm128(c, ref d).AsUInt32();
        var a = c.XmmRegister(dst).AsUInt32();
        var status = c.FloatStatus;
        uint r0 = T.Single(a.GetElement(0), b.GetElement(0), ref status);
        uint r1 = T.Single(a.GetElement(1), b.GetElement(1), ref status);
        uint r2 = T.Single(a.GetElement(2), b.GetElement(2), ref status);
        uint r3 = T.Single(a.GetElement(3), b.GetElement(3), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1, r2, r3).AsByte();
        return true;
    }

    private static bool ScalarSingle<T>(Processor c, ref DecodedInstruction d) where T : struct, IFloatOperation
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        uint b = Xmm32(c, ref d);
        var status = c.FloatStatus;
        uint r = T.Single(c.XmmDword(dst, 0), b, ref status);
        c.CompleteFloat(in status);
        c.XmmDword(dst, 0) = r;
        return true;
    }

    private static bool PackedDouble<T>(Processor c, ref DecodedInstruction d) where T : struct, IFloatOperation
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        var b = Xmm128(c, ref d).AsUInt64();
        var a = c.XmmRegister(dst).AsUInt64();
        var status = c.FloatStatus;
        ulong r0 = T.Double(a.GetElement(0), b.GetElement(0), ref status);
        ulong r1 = T.Double(a.GetElement(1), b.GetElement(1), ref status);
        c.CompleteFloat(in status);
        c.XmmRegister(dst) = Vector128.Create(r0, r1).AsByte();
        return true;
    }

    private static bool ScalarDouble<T>(Processor c, ref DecodedInstruction d) where T : struct, IFloatOperation
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        ulong b = Xmm64(c, ref d);
        var status = c.FloatStatus;
        ulong r = T.Double(c.XmmQword(dst, 0), b, ref status);
        c.CompleteFloat(in status);
        c.XmmQword(dst, 0) = r;
        return true;
    }
}
