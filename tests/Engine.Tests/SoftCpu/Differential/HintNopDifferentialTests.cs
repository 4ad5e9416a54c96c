using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// The hint-NOP space (0F 18-0F 1F), where CET put RDSSP so that older processors run it as a NOP:
/// every form, with register and memory operands, leaves registers, flags and memory as the host
/// leaves them, which runs them without shadow stacks (Xen runs RDSSP at boot to learn whether
/// shadow stacks are on). INCSSP, in LFENCE's encodings, raises #UD there as here.
/// </summary>
public sealed class HintNopDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Theory]
    [InlineData(Mnemonic.Reservednop)]
    [InlineData(Mnemonic.Rdsspd)]
    [InlineData(Mnemonic.Rdsspq)]
    [InlineData(Mnemonic.Incsspd)]
    [InlineData(Mnemonic.Incsspq)]
    [InlineData(Mnemonic.Cldemote)]
    [InlineData(Mnemonic.Prefetchit0)]
    [InlineData(Mnemonic.Prefetchit1)]
    public void EveryFormAgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7600 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        // 0F 0D is AMD's PREFETCH group, whose register forms raise #UD on the host: not a hint NOP.
        foreach (var code in RandomOperands.CodesOf(mnemonic).Where(c => RandomOperands.Supports(c) && !c.ToString().EndsWith("_0F0D", StringComparison.Ordinal)))
            for (int i = 0; i < 30; i++)
                cases.Add(RandomOperands.Case(code, values));
        Assert.NotEmpty(cases);
        _runner.AssertAgree(cases, seed);
    }
}
