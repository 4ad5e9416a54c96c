namespace VmReplay.Engine.SoftCpu.SseFloat;

/// <summary>
/// The MXCSR one SSE instruction runs under (rounding, DAZ, FTZ, the underflow and overflow
/// masks) and the exception conditions its operations detect, ORed over all its elements. The
/// instruction decides from <see cref="Flags"/> and the masks whether it completes or raises #XM.
/// </summary>
internal struct FloatStatus
{
    public FloatStatus(uint mxcsr)
    {
        Rounding = (Rounding)((mxcsr & MxcsrBits.RoundingControl) >> MxcsrBits.RoundingShift);
        DenormalsAreZeros = (mxcsr & MxcsrBits.Daz) != 0;
        UnderflowMasked = (mxcsr & (MxcsrBits.Ue << MxcsrBits.MaskShift)) != 0;
        OverflowMasked = (mxcsr & (MxcsrBits.Oe << MxcsrBits.MaskShift)) != 0;
        // FTZ only acts when underflow is masked (SDM vol. 1, 10.2.3.3).
        FlushToZero = (mxcsr & MxcsrBits.Ftz) != 0 && UnderflowMasked;
        Flags = 0;
    }

    public readonly Rounding Rounding;
    public readonly bool DenormalsAreZeros;
    public readonly bool FlushToZero;
    /// <summary>
    /// With underflow unmasked, a tiny result is an underflow even when exact (SDM vol. 1,
    /// 11.5.2.5); masked, only a tiny and inexact one is.
    /// </summary>
    public readonly bool UnderflowMasked;
    /// <summary>
    /// Unmasked overflow and underflow report #P only when the result rounded to full precision
    /// with an unbounded exponent is inexact (as the processors do); masked, the delivered result
    /// decides.
    /// </summary>
    public readonly bool OverflowMasked;
    /// <summary>Exception conditions detected so far (MXCSR flag bits).</summary>
    public uint Flags;
}
