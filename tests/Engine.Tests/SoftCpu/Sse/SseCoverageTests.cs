using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>Every legacy-encoded MMX, SSE and SSE2 form Iced knows has a handler (the CPU model offers those sets).</summary>
public sealed class SseCoverageTests
{
    [Fact]
    public void EveryMmxSseAndSse2FormIsImplemented()
    {
        var missing = Enum.GetValues<Code>().Where(SseCodes.IsSseOrMmx).Where(c => !HandlerTable.Instance.IsImplemented(c)).ToList();
        Assert.True(missing.Count == 0, "not implemented: " + string.Join(", ", missing));
    }
}
