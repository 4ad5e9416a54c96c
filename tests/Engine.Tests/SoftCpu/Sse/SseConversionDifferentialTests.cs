using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// Every SSE/SSE2 conversion against the host CPU: integers (with their extremes) to singles and
/// doubles in every rounding mode, singles and doubles (NaNs, infinities, out-of-range values,
/// values at and between integers, denormals) to integers (the integer indefinite and #I) and to
/// each other (overflow, underflow, FTZ, DAZ), the MMX forms included.
/// </summary>
public sealed class SseConversionDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public static TheoryData<Mnemonic, Lanes, Lanes> Conversions => new()
    {
        { Mnemonic.Cvtsi2ss, Lanes.Single, Lanes.Integer },
        { Mnemonic.Cvtsi2sd, Lanes.Double, Lanes.Integer },
        { Mnemonic.Cvtss2si, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvttss2si, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvtsd2si, Lanes.Integer, Lanes.Double },
        { Mnemonic.Cvttsd2si, Lanes.Integer, Lanes.Double },
        { Mnemonic.Cvtss2sd, Lanes.Double, Lanes.Single },
        { Mnemonic.Cvtsd2ss, Lanes.Single, Lanes.Double },
        { Mnemonic.Cvtps2pd, Lanes.Double, Lanes.Single },
        { Mnemonic.Cvtpd2ps, Lanes.Single, Lanes.Double },
        { Mnemonic.Cvtdq2ps, Lanes.Single, Lanes.Integer },
        { Mnemonic.Cvtps2dq, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvttps2dq, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvtdq2pd, Lanes.Double, Lanes.Integer },
        { Mnemonic.Cvtpd2dq, Lanes.Integer, Lanes.Double },
        { Mnemonic.Cvttpd2dq, Lanes.Integer, Lanes.Double },
        { Mnemonic.Cvtpi2ps, Lanes.Single, Lanes.Integer },
        { Mnemonic.Cvtpi2pd, Lanes.Double, Lanes.Integer },
        { Mnemonic.Cvtps2pi, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvttps2pi, Lanes.Integer, Lanes.Single },
        { Mnemonic.Cvtpd2pi, Lanes.Integer, Lanes.Double },
        { Mnemonic.Cvttpd2pi, Lanes.Integer, Lanes.Double },
    };

    [Theory]
    [MemberData(nameof(Conversions))]
    public void AgreesWithTheHost(Mnemonic mnemonic, Lanes destination, Lanes source)
    {
        int seed = OperandValues.Seed(7200 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 800; i++)
                cases.Add(builder.Case(code, destination, source));
        _runner.AssertAgree(cases, seed);
    }
}
