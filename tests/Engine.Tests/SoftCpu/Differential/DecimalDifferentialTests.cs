using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// What of the BCD family the host can check in 64-bit mode: DAA, DAS, AAA, AAS, AAM and AAD are
/// invalid there (#UD on both), and XLAT in 64- and 32-bit address sizes with segment overrides.
/// Their semantics outside 64-bit mode are in DecimalArithmeticTests.
/// </summary>
public sealed class DecimalDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Fact]
    public void BcdAdjustmentsAreInvalidInSixtyFourBitMode()
    {
        byte[][] codes = [[0x27], [0x2F], [0x37], [0x3F], [0xD4, 0x0A], [0xD5, 0x0A], [0x60], [0x61], [0xD4, 0x00]];
        var cases = codes.Select(b => DifferentialCase.OfBytes(b).Set(Register.RAX, 0x1234)).ToList();
        var results = _runner.Run(cases);
        Assert.All(results, r => Assert.Equal(6, r.Native.Exception));
        Assert.All(results, r => Assert.Null(r.Difference));
    }

    [Fact]
    public void XlatAgreesWithTheHost()
    {
        int seed = OperandValues.Seed(9000);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 300; i++)
        {
            byte[] prefix = values.Between(0, 4) switch
            {
                0 => [],
                1 => [0x67],              // EBX + AL
                2 => [0x65],              // GS:
                _ => [0x26],              // ES: (ignored in 64-bit mode)
            };
            var c = DifferentialCase.OfBytes([.. prefix, 0xD7]).WithData(values.Random64()).WithFlags(values.Flags() & ~0x400UL);
            for (int r = 0; r < 16; r++) c.Gpr[r] = values.Next(64);
            ulong table = (ulong)values.Between(0, DifferentialLayout.DataSize - 255);
            if (prefix is [0x65])
            {
                c.GsBase = DifferentialLayout.DataAddress + table - 0x100;
                c.Gpr[3] = 0x100;
            }
            else c.Gpr[3] = (prefix is [0x67] ? values.Random64() << 32 : 0) | (DifferentialLayout.DataAddress + table);
            cases.Add(c);
        }
        _runner.AssertAgree(cases, seed);
    }
}
