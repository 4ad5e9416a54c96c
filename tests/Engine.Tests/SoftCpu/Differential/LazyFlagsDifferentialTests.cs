using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// The lazy flags (Processor.Flags): a flag-setting instruction followed by one that reads its
/// flags (SETcc and CMOVcc of all 16 conditions, ADC/SBB, LAHF, CMC; and the RFLAGS the pair
/// leaves), so every condition is evaluated from each kind of pending operation and size rather
/// than from materialised flags alone.
/// </summary>
public sealed class LazyFlagsDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private const ulong Af = 0x10;

    private static readonly Mnemonic[] Producers =
    [
        Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.Neg, Mnemonic.Inc, Mnemonic.Dec,
        Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Test, Mnemonic.Xadd, Mnemonic.Cmpxchg,
    ];

    [Theory]
    [MemberData(nameof(ProducerNames))]
    public void ConditionsReadAfterEachOperationAgreeWithTheHost(Mnemonic producer)
    {
        int seed = OperandValues.Seed(8000 + (int)producer);
        var values = new OperandValues(seed);
        bool afUndefined = producer is Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test;
        var codes = RandomOperands.CodesOf(producer).Where(c => RandomOperands.Supports(c) && c.ToOpCode().OpCount > 0).ToArray();
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 400; i++)
        {
            var first = RandomOperands.Case(values.Pick(codes), values);
            // Operands often equal or adjacent, so that ZF, CF and the signed conditions flip.
            if (first.Instruction.OpCount >= 2 && first.Instruction.GetOpKind(1) == OpKind.Register && values.OneIn(3))
                first.SetOperand(1, first.OperandValue(0) + (ulong)values.Between(-1, 2));
            if (afUndefined) first.Undefined(Af);
            int cc = values.Between(0, 16);
            Instruction next = values.Between(0, 6) switch
            {
                0 or 1 => Instruction.Create(SetCode(cc), Register.R8L),
                2 or 3 => Instruction.Create(CmovCode(cc), Register.R9, Register.R10),
                4 => Instruction.Create(values.OneIn(2) ? Code.Adc_rm64_r64 : Code.Sbb_rm64_r64, Register.R11, Register.R12),
                _ => afUndefined ? Instruction.Create(Code.Cmc) : Instruction.Create(Code.Lahf),
            };
            cases.Add(first.Then(next));
        }
        _runner.AssertAgree(cases, seed);
    }

    public static TheoryData<Mnemonic> ProducerNames()
    {
        var data = new TheoryData<Mnemonic>();
        foreach (var m in Producers) data.Add(m);
        return data;
    }

    // SETcc and CMOVcc codes in condition order (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G).
    private static readonly Code[] SetCodes =
    [
        Code.Seto_rm8, Code.Setno_rm8, Code.Setb_rm8, Code.Setae_rm8, Code.Sete_rm8, Code.Setne_rm8, Code.Setbe_rm8, Code.Seta_rm8,
        Code.Sets_rm8, Code.Setns_rm8, Code.Setp_rm8, Code.Setnp_rm8, Code.Setl_rm8, Code.Setge_rm8, Code.Setle_rm8, Code.Setg_rm8,
    ];

    private static readonly Code[] CmovCodes =
    [
        Code.Cmovo_r64_rm64, Code.Cmovno_r64_rm64, Code.Cmovb_r64_rm64, Code.Cmovae_r64_rm64, Code.Cmove_r64_rm64, Code.Cmovne_r64_rm64,
        Code.Cmovbe_r64_rm64, Code.Cmova_r64_rm64, Code.Cmovs_r64_rm64, Code.Cmovns_r64_rm64, Code.Cmovp_r64_rm64, Code.Cmovnp_r64_rm64,
        Code.Cmovl_r64_rm64, Code.Cmovge_r64_rm64, Code.Cmovle_r64_rm64, Code.Cmovg_r64_rm64,
    ];

    private static Code SetCode(int cc) => SetCodes[cc];
    private static Code CmovCode(int cc) => CmovCodes[cc];
}
