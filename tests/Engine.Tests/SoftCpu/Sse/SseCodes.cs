using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>The legacy-encoded MMX, SSE and SSE2 forms of a mnemonic, as Iced lists them.</summary>
internal static class SseCodes
{
    public static IEnumerable<Code> Of(Mnemonic mnemonic) =>
        Enum.GetValues<Code>().Where(c => c.Mnemonic() == mnemonic && IsSseOrMmx(c));

    public static bool IsSseOrMmx(Code code) =>
        code.Encoding() == EncodingKind.Legacy && code.CpuidFeatures() is { Length: > 0 } f
        && f.All(x => x is CpuidFeature.MMX or CpuidFeature.SSE or CpuidFeature.SSE2);
}
