using Iced.Intel;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>Which Iced forms belong to the MMX, SSE and SSE2 instruction sets this processor offers, and which of them work on MMX registers.</summary>
internal static class SseInstructionSet
{
    /// <summary>A legacy-encoded (not VEX or EVEX) form whose CPUID features are all among MMX, SSE and SSE2.</summary>
    public static bool Includes(Code code)
    {
        if (code.Encoding() != EncodingKind.Legacy) return false;
        var features = code.CpuidFeatures();
        if (features.Length == 0) return false;
        foreach (var f in features)
            if (f is not (CpuidFeature.MMX or CpuidFeature.SSE or CpuidFeature.SSE2)) return false;
        return true;
    }

    /// <summary>
    /// One of the forms <see cref="Includes"/> that works on MMX registers alone: Iced's name has
    /// "_mm" and no "xmm". Listed, not found by the name: naming one Code builds the names of all
    /// 4,900, 400 KB for the collector at every start. A test holds the list to the names.
    /// </summary>
    public static bool IsMmxForm(Code code) => code is Code.Punpcklbw_mm_mmm32 or Code.Punpcklwd_mm_mmm32 or Code.Punpckldq_mm_mmm32
        or Code.Packsswb_mm_mmm64 or Code.Pcmpgtb_mm_mmm64 or Code.Pcmpgtw_mm_mmm64 or Code.Pcmpgtd_mm_mmm64 or Code.Packuswb_mm_mmm64
        or Code.Punpckhbw_mm_mmm64 or Code.Punpckhwd_mm_mmm64 or Code.Punpckhdq_mm_mmm64 or Code.Packssdw_mm_mmm64
        or Code.Movd_mm_rm32 or Code.Movq_mm_rm64 or Code.Movq_mm_mmm64 or Code.Pshufw_mm_mmm64_imm8
        or Code.Psrlw_mm_imm8 or Code.Psraw_mm_imm8 or Code.Psllw_mm_imm8 or Code.Psrld_mm_imm8
        or Code.Psrad_mm_imm8 or Code.Pslld_mm_imm8 or Code.Psrlq_mm_imm8 or Code.Psllq_mm_imm8
        or Code.Pcmpeqb_mm_mmm64 or Code.Pcmpeqw_mm_mmm64 or Code.Pcmpeqd_mm_mmm64 or Code.Movd_rm32_mm
        or Code.Movq_rm64_mm or Code.Movq_mmm64_mm or Code.Pinsrw_mm_r32m16_imm8 or Code.Pinsrw_mm_r64m16_imm8
        or Code.Pextrw_r32_mm_imm8 or Code.Pextrw_r64_mm_imm8 or Code.Psrlw_mm_mmm64 or Code.Psrld_mm_mmm64
        or Code.Psrlq_mm_mmm64 or Code.Paddq_mm_mmm64 or Code.Pmullw_mm_mmm64 or Code.Pmovmskb_r32_mm
        or Code.Pmovmskb_r64_mm or Code.Psubusb_mm_mmm64 or Code.Psubusw_mm_mmm64 or Code.Pminub_mm_mmm64
        or Code.Pand_mm_mmm64 or Code.Paddusb_mm_mmm64 or Code.Paddusw_mm_mmm64 or Code.Pmaxub_mm_mmm64
        or Code.Pandn_mm_mmm64 or Code.Pavgb_mm_mmm64 or Code.Psraw_mm_mmm64 or Code.Psrad_mm_mmm64
        or Code.Pavgw_mm_mmm64 or Code.Pmulhuw_mm_mmm64 or Code.Pmulhw_mm_mmm64 or Code.Movntq_m64_mm
        or Code.Psubsb_mm_mmm64 or Code.Psubsw_mm_mmm64 or Code.Pminsw_mm_mmm64 or Code.Por_mm_mmm64
        or Code.Paddsb_mm_mmm64 or Code.Paddsw_mm_mmm64 or Code.Pmaxsw_mm_mmm64 or Code.Pxor_mm_mmm64
        or Code.Psllw_mm_mmm64 or Code.Pslld_mm_mmm64 or Code.Psllq_mm_mmm64 or Code.Pmuludq_mm_mmm64
        or Code.Pmaddwd_mm_mmm64 or Code.Psadbw_mm_mmm64 or Code.Maskmovq_rDI_mm_mm or Code.Psubb_mm_mmm64
        or Code.Psubw_mm_mmm64 or Code.Psubd_mm_mmm64 or Code.Psubq_mm_mmm64 or Code.Paddb_mm_mmm64
        or Code.Paddw_mm_mmm64 or Code.Paddd_mm_mmm64;
}
