using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// MOV (moffs included), MOVZX, MOVSX, MOVSXD, LEA, XCHG, PUSH, POP, CMOVcc, SETcc, BSWAP,
/// CBW/CWDE/CDQE, CWD/CDQ/CQO, ENTER, LEAVE, LAHF, SAHF, CLC, STC, CMC, every form in 64-bit mode.
/// </summary>
public sealed class DataTransferDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Theory]
    [InlineData(Mnemonic.Mov)]
    [InlineData(Mnemonic.Movzx)]
    [InlineData(Mnemonic.Movsx)]
    [InlineData(Mnemonic.Movsxd)]
    [InlineData(Mnemonic.Lea)]
    [InlineData(Mnemonic.Xchg)]
    [InlineData(Mnemonic.Push)]
    [InlineData(Mnemonic.Pop)]
    [InlineData(Mnemonic.Bswap)]
    [InlineData(Mnemonic.Cbw)]
    [InlineData(Mnemonic.Cwde)]
    [InlineData(Mnemonic.Cdqe)]
    [InlineData(Mnemonic.Cwd)]
    [InlineData(Mnemonic.Cdq)]
    [InlineData(Mnemonic.Cqo)]
    [InlineData(Mnemonic.Lahf)]
    [InlineData(Mnemonic.Sahf)]
    [InlineData(Mnemonic.Clc)]
    [InlineData(Mnemonic.Stc)]
    [InlineData(Mnemonic.Cmc)]
    public void EveryFormAgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic).Where(RandomOperands.Supports))
            for (int i = 0; i < 40; i++)
                cases.Add(RandomOperands.Case(code, values));
        Assert.NotEmpty(cases);
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void ConditionalMovesAndSetsAgreeWithTheHostInEveryFlagState()
    {
        int seed = OperandValues.Seed(7100);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in Enum.GetValues<Code>())
        {
            var m = code.Mnemonic().ToString();
            if (!(m.StartsWith("Cmov", StringComparison.Ordinal) || m.StartsWith("Set", StringComparison.Ordinal) && m.Length <= 6)) continue;
            if (code.ToOpCode() is not { Mode64: true, Encoding: EncodingKind.Legacy } || !RandomOperands.Supports(code)) continue;
            for (int i = 0; i < 30; i++) cases.Add(RandomOperands.Case(code, values));
        }
        Assert.True(cases.Count > 32 * 30);
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void StackFormsAgreeWithTheHost()
    {
        int seed = OperandValues.Seed(7200);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        var forms = new List<Action<Assembler>>
        {
            a => a.push(rsp), a => a.pop(rsp), a => a.push(__qword_ptr[rsp + 8]), a => a.pop(__qword_ptr[rsp + 8]),
            a => a.pop(__qword_ptr[rsp - 8]), a => a.push(__word_ptr[rsp]), a => a.pop(__word_ptr[rsp]), a => a.push(sp), a => a.pop(sp),
            a => a.leave(), a => a.leave(),
        };
        for (int level = 0; level < 33; level += values.Between(1, 4))
        {
            int l = level;
            forms.Add(a => a.enter((ushort)values.Between(0, 0x300), (byte)l));
        }
        foreach (var form in forms)
        {
            for (int i = 0; i < 20; i++)
            {
                var c = DifferentialCase.Of(form).WithData(values.Random64()).WithFlags(values.Flags() & ~0x400UL);
                for (int r = 0; r < 16; r++) c.Gpr[r] = values.Next(64);
                c.PointAt(Register.RSP, values.Between(0x300, 0xF00) & ~(values.OneIn(4) ? 0 : 7));
                c.PointAt(Register.RBP, values.Between(0x100, 0xF00));
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }
}
