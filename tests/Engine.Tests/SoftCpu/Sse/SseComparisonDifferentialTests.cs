using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// CMPPS/CMPSS/CMPPD/CMPSD with every immediate (the legacy forms use its low three bits) and
/// COMISS/UCOMISS/COMISD/UCOMISD (EFLAGS) against the host CPU, with NaNs, denormals, DAZ and
/// unmasked #I/#D.
/// </summary>
public sealed class SseComparisonDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Theory]
    [InlineData(Mnemonic.Cmpps)]
    [InlineData(Mnemonic.Cmpss)]
    [InlineData(Mnemonic.Cmppd)]
    [InlineData(Mnemonic.Cmpsd)]
    [InlineData(Mnemonic.Comiss)]
    [InlineData(Mnemonic.Ucomiss)]
    [InlineData(Mnemonic.Comisd)]
    [InlineData(Mnemonic.Ucomisd)]
    public void AgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7100 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed);
        var lanes = mnemonic.ToString().EndsWith('s') ? Lanes.Single : Lanes.Double;
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 800; i++)
                cases.Add(builder.Case(code, lanes, lanes, immediate: i < 64 ? i & 7 : null).WithFlags(builder.Floats.OneIn(2) ? 0x8D5UL : 0));
        _runner.AssertAgree(cases, seed);
    }
}
