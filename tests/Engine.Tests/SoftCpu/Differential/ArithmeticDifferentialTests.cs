using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT, every form and size, against the host CPU.</summary>
public sealed class ArithmeticDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private const ulong Af = 0x10;

    [Theory]
    [InlineData(Mnemonic.Add, 0UL)]
    [InlineData(Mnemonic.Or, Af)]
    [InlineData(Mnemonic.Adc, 0UL)]
    [InlineData(Mnemonic.Sbb, 0UL)]
    [InlineData(Mnemonic.And, Af)]
    [InlineData(Mnemonic.Sub, 0UL)]
    [InlineData(Mnemonic.Xor, Af)]
    [InlineData(Mnemonic.Cmp, 0UL)]
    [InlineData(Mnemonic.Test, Af)]
    [InlineData(Mnemonic.Inc, 0UL)]
    [InlineData(Mnemonic.Dec, 0UL)]
    [InlineData(Mnemonic.Neg, 0UL)]
    [InlineData(Mnemonic.Not, 0UL)]
    public void EveryFormAgreesWithTheHost(Mnemonic mnemonic, ulong undefinedFlags)
    {
        int seed = OperandValues.Seed(1000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
            for (int i = 0; i < 40; i++)
                cases.Add(RandomOperands.Case(code, values).Undefined(undefinedFlags));
        _runner.AssertAgree(cases, seed);
    }
}
