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

    /// <summary>A form whose destination is an MMX register or which reads only MMX registers (by Iced's name: "_mm" and no "xmm").</summary>
    public static bool IsMmxForm(Code code)
    {
        string name = code.ToString();
        return name.Contains("_mm", StringComparison.Ordinal) && !name.Contains("xmm", StringComparison.Ordinal);
    }
}
