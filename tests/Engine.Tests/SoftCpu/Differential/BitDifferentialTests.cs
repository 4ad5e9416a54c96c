using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>BT BTS BTR BTC (register, immediate and memory forms, offsets beyond the operand), BSF, BSR.</summary>
public sealed class BitDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private const ulong Cf = 1, Pf = 4, Af = 0x10, Sf = 0x80, Of = 0x800;

    [Theory]
    [InlineData(Mnemonic.Bt)]
    [InlineData(Mnemonic.Bts)]
    [InlineData(Mnemonic.Btr)]
    [InlineData(Mnemonic.Btc)]
    public void BitTestsAgreeWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(4000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
        {
            for (int i = 0; i < 150; i++)
            {
                var c = RandomOperands.Case(code, values).Undefined(Of | Sf | Af | Pf);
                var ins = c.Instruction;
                if (ins.GetOpKind(0) == OpKind.Memory && ins.GetOpKind(1) == OpKind.Register)
                {
                    int size = ins.MemorySize.GetSize(), bits = size * 8;
                    int at = c.MemoryOffset();
                    if (!values.OneIn(8))
                    {
                        // A register bit offset that reaches anywhere in the buffer, before or after the operand.
                        int unit = values.Between(-(at / size), (DifferentialLayout.DataSize - at) / size);
                        c.SetOperand(1, (ulong)((long)unit * bits + values.Between(0, bits)));
                    }
                    else if (size == 8)
                    {
                        // Far outside, but canonical: a #PF on both. (A non-canonical address
                        // through RBP or RSP raises #SS natively and #GP on the software CPU,
                        // whose page walk does not know the segment: not tested here.)
                        c.SetOperand(1, (ulong)(values.Random64() >> 20) * (values.OneIn(2) ? 1UL : ulong.MaxValue));
                    }
                }
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }

    [Theory]
    [InlineData(Mnemonic.Bsf)]
    [InlineData(Mnemonic.Bsr)]
    public void BitScansAgreeWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(4000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
        {
            for (int i = 0; i < 200; i++)
            {
                var c = RandomOperands.Case(code, values).Undefined(Cf | Of | Sf | Af | Pf);
                if (values.OneIn(5)) c.SetOperand(1, 0);
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }

    /// <summary>
    /// The model offers neither ABM nor BMI1, so F3 0F BD / F3 0F BC must run as BSR / BSF, as on
    /// processors without them. The host has LZCNT and TZCNT, so the prefixed form runs on the
    /// software CPU only and is compared with the host's unprefixed BSR / BSF.
    /// </summary>
    [Theory]
    [InlineData(Mnemonic.Bsf)]
    [InlineData(Mnemonic.Bsr)]
    public void RepPrefixedBitScansRunAsBitScans(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(4100 + (int)mnemonic);
        var values = new OperandValues(seed);
        var plain = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
            for (int i = 0; i < 50; i++)
            {
                var c = RandomOperands.Case(code, values).Undefined(Cf | Of | Sf | Af | Pf);
                if (values.OneIn(5)) c.SetOperand(1, 0);
                plain.Add(c);
            }
        var native = _runner.Run(plain);
        var differences = new List<string>();
        foreach (var r in native)
        {
            // F3 goes first, before any REX prefix.
            var code = r.Case.Code;
            int rex = code[0] is >= 0x40 and <= 0x4F ? 1 : code[0] == 0x66 && code[1] is >= 0x40 and <= 0x4F ? 2 : code[0] == 0x66 ? 1 : 0;
            var prefixed = DifferentialCase.OfBytes([.. code[..rex].Where(b => b == 0x66), 0xF3, .. code[..rex].Where(b => b != 0x66), .. code[rex..]]);
            r.Case.Gpr.CopyTo(prefixed.Gpr, 0);
            prefixed.Flags = r.Case.Flags;
            prefixed.DataSeed = r.Case.DataSeed;
            prefixed.Pokes.AddRange(r.Case.Pokes);
            prefixed.UndefinedFlags = r.Case.UndefinedFlags;
            Assert.Equal(mnemonic == Mnemonic.Bsf ? Mnemonic.Tzcnt : Mnemonic.Lzcnt, prefixed.Instruction.Mnemonic);
            var soft = _runner.RunSoftOnly(prefixed);
            soft.Rip -= 1;
            if (DifferentialRunner.Difference(r.Case, r.Native, soft) is { } d) differences.Add($"{prefixed.Text}: {d}");
        }
        Assert.True(differences.Count == 0, $"seed {seed}:\n" + string.Join("\n", differences.Take(10)));
    }

    [Fact]
    public void PopcntIsNotOffered()
    {
        var c = DifferentialCase.OfBytes([0xF3, 0x48, 0x0F, 0xB8, 0xC3]); // popcnt rax, rbx
        Assert.Equal(Mnemonic.Popcnt, c.Instruction.Mnemonic);
        Assert.Equal(6, _runner.RunSoftOnly(c).Exception);
    }
}
