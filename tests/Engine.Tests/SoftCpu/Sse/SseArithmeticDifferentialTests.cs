using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// ADD, SUB, MUL, DIV, SQRT, MIN, MAX in PS/SS/PD/SD forms against the host CPU: XMM results and
/// MXCSR flags bit for bit, under every rounding mode, DAZ and FTZ, with masked and unmasked
/// exceptions (#XM), register and (aligned or not) memory sources.
/// </summary>
public sealed class SseArithmeticDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public static TheoryData<Mnemonic> Operations => new()
    {
        Mnemonic.Addps, Mnemonic.Addss, Mnemonic.Addpd, Mnemonic.Addsd,
        Mnemonic.Subps, Mnemonic.Subss, Mnemonic.Subpd, Mnemonic.Subsd,
        Mnemonic.Mulps, Mnemonic.Mulss, Mnemonic.Mulpd, Mnemonic.Mulsd,
        Mnemonic.Divps, Mnemonic.Divss, Mnemonic.Divpd, Mnemonic.Divsd,
        Mnemonic.Sqrtps, Mnemonic.Sqrtss, Mnemonic.Sqrtpd, Mnemonic.Sqrtsd,
        Mnemonic.Minps, Mnemonic.Minss, Mnemonic.Minpd, Mnemonic.Minsd,
        Mnemonic.Maxps, Mnemonic.Maxss, Mnemonic.Maxpd, Mnemonic.Maxsd,
    };

    /// <summary>The lanes of a PS/SS or PD/SD instruction.</summary>
    internal static Lanes LanesOf(Mnemonic m) => m.ToString().EndsWith('s') ? Lanes.Single : Lanes.Double;

    [Theory]
    [MemberData(nameof(Operations))]
    public void AgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7000 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed);
        var lanes = LanesOf(mnemonic);
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 1500; i++)
                cases.Add(builder.Case(code, lanes, lanes));
        _runner.AssertAgree(cases, seed);
    }
}
