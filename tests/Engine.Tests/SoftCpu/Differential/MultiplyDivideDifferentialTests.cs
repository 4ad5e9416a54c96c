using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>MUL, IMUL (one, two, three operands), DIV, IDIV in every form and size, #DE included.</summary>
public sealed class MultiplyDivideDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private const ulong Cf = 1, Pf = 4, Af = 0x10, Zf = 0x40, Sf = 0x80, Of = 0x800;

    [Theory]
    [InlineData(Mnemonic.Mul)]
    [InlineData(Mnemonic.Imul)]
    public void MultiplicationAgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(3000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
            for (int i = 0; i < 150; i++)
                cases.Add(RandomOperands.Case(code, values).Undefined(Sf | Zf | Af | Pf));
        _runner.AssertAgree(cases, seed);
    }

    [Theory]
    [InlineData(Mnemonic.Div)]
    [InlineData(Mnemonic.Idiv)]
    public void DivisionAndItsDivideErrorsAgreeWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(3000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
        {
            for (int i = 0; i < 300; i++)
            {
                var c = RandomOperands.Case(code, values).Undefined(Cf | Pf | Af | Zf | Sf | Of);
                int size = c.Instruction.GetOpKind(0) == OpKind.Register ? c.Instruction.GetOpRegister(0).GetSize() : c.Instruction.MemorySize.GetSize();
                int bits = size * 8;
                ulong mask = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
                if (values.OneIn(10)) c.SetOperand(0, 0);
                ulong divisor = c.OperandValue(0);
                // Mostly a dividend whose quotient fits: the high half below the divisor (DIV),
                // or the low half sign-extended (IDIV); otherwise random, which mostly overflows.
                int choice = values.Between(0, 4);
                if (size == 1)
                {
                    ulong ax = choice switch
                    {
                        0 => values.Next(16),
                        1 => (ulong)(long)(sbyte)values.Next(8) & 0xFFFF,
                        _ => (values.Next(8) % Math.Max(divisor, 1)) << 8 | values.Next(8),
                    };
                    if (mnemonic == Mnemonic.Idiv && choice == 2) ax = (ulong)(long)(sbyte)ax & 0xFFFF;
                    c.Gpr[0] = (c.Gpr[0] & ~0xFFFFUL) | ax;
                }
                else
                {
                    ulong high = choice switch
                    {
                        0 => values.Next(bits),
                        1 => (c.Gpr[0] & (1UL << (bits - 1))) != 0 ? mask : 0,
                        _ => divisor == 0 ? 0 : values.Next(bits) % divisor,
                    };
                    if (mnemonic == Mnemonic.Idiv && choice == 2) high = (c.Gpr[0] & (1UL << (bits - 1))) != 0 ? mask : 0;
                    c.Gpr[2] = size == 8 ? high : (c.Gpr[2] & ~mask) | high;
                }
                cases.Add(c);
            }
        }
        // The signed limits: the most negative dividend by -1 overflows.
        foreach (var (bits, divisorReg) in new[] { (64, Register.RBX), (32, Register.EBX), (16, Register.BX) })
        {
            var c = DifferentialCase.OfBytes(Encode(Instruction.Create(mnemonic == Mnemonic.Idiv ? IdivCode(bits) : DivCode(bits), divisorReg)))
                .Set(Register.RBX, ulong.MaxValue).Set(Register.RAX, 0).Set(Register.RDX, 1UL << (bits - 1)).Undefined(0xCD5);
            cases.Add(c);
        }
        _runner.AssertAgree(cases, seed);
    }

    private static Code IdivCode(int bits) => bits switch { 64 => Code.Idiv_rm64, 32 => Code.Idiv_rm32, _ => Code.Idiv_rm16 };
    private static Code DivCode(int bits) => bits switch { 64 => Code.Div_rm64, 32 => Code.Div_rm32, _ => Code.Div_rm16 };

    private static byte[] Encode(Instruction ins)
    {
        var stream = new MemoryStream();
        Encoder.Create(64, new StreamCodeWriter(stream)).Encode(ins, DifferentialLayout.CodeAddress);
        return stream.ToArray();
    }
}
