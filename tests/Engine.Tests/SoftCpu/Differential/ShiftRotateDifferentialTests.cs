using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD, every form and size, counts 0, 1, the width and beyond.</summary>
public sealed class ShiftRotateDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private const ulong Cf = 1, Af = 0x10, Of = 0x800;

    [Theory]
    [InlineData(Mnemonic.Shl)]
    [InlineData(Mnemonic.Sal)]
    [InlineData(Mnemonic.Shr)]
    [InlineData(Mnemonic.Sar)]
    [InlineData(Mnemonic.Rol)]
    [InlineData(Mnemonic.Ror)]
    [InlineData(Mnemonic.Rcl)]
    [InlineData(Mnemonic.Rcr)]
    [InlineData(Mnemonic.Shld)]
    [InlineData(Mnemonic.Shrd)]
    public void EveryFormAgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(2000 + (int)mnemonic);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(mnemonic))
        {
            for (int i = 0; i < 60; i++)
            {
                var c = RandomOperands.Case(code, values);
                int bits = c.Instruction.GetOpKind(0) == OpKind.Register
                    ? c.Instruction.GetOpRegister(0).GetSize() * 8
                    : c.Instruction.MemorySize.GetSize() * 8;
                var countOperand = c.Instruction.OpCount - 1;
                if (c.Instruction.GetOpKind(countOperand) == OpKind.Register)
                    c.Gpr[1] = (c.Gpr[1] & ~0xFFUL) | values.Count(bits);
                int count = (int)(c.Instruction.GetOpKind(countOperand) == OpKind.Register ? c.Gpr[1] & 0xFF : c.Instruction.GetImmediate(countOperand));
                count &= bits == 64 ? 63 : 31;
                c.Undefined(UndefinedFlags(mnemonic, count, bits));
                // SHLD/SHRD of a 16-bit operand by more than 16: the SDM leaves the result undefined too.
                if (mnemonic is Mnemonic.Shld or Mnemonic.Shrd && count > bits) c.Comparing(StateParts.Exception);
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }

    private static ulong UndefinedFlags(Mnemonic m, int count, int bits)
    {
        if (count == 0) return 0;
        ulong undefined = count == 1 ? 0 : Of;
        switch (m)
        {
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr:
                undefined |= Af;
                if (count >= bits) undefined |= Cf;
                break;
            case Mnemonic.Sar:
                undefined |= Af;
                break;
            case Mnemonic.Shld or Mnemonic.Shrd:
                undefined |= Af;
                if (count > bits) undefined |= 0xCD5;
                break;
        }
        return undefined;
    }
}
