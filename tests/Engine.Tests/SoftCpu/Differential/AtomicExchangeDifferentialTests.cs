using Iced.Intel;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B (with its alignment #GP), comparisons that succeed and fail.</summary>
public sealed class AtomicExchangeDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    [Fact]
    public void XaddAgreesWithTheHost()
    {
        int seed = OperandValues.Seed(6001);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(Mnemonic.Xadd))
            for (int i = 0; i < 200; i++)
                cases.Add(RandomOperands.Case(code, values));
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void CmpxchgAgreesWithTheHost()
    {
        int seed = OperandValues.Seed(6002);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in RandomOperands.CodesOf(Mnemonic.Cmpxchg))
        {
            for (int i = 0; i < 200; i++)
            {
                var c = RandomOperands.Case(code, values);
                // Half of them equal: the accumulator (AL, AX, EAX, RAX) set to the destination's value.
                if (values.OneIn(2))
                {
                    int size = c.Instruction.GetOpKind(0) == OpKind.Register ? c.Instruction.GetOpRegister(0).GetSize() : c.Instruction.MemorySize.GetSize();
                    ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
                    c.Gpr[0] = (c.Gpr[0] & ~mask) | c.OperandValue(0);
                }
                cases.Add(c);
            }
        }
        _runner.AssertAgree(cases, seed);
    }

    [Theory]
    [InlineData(Code.Cmpxchg8b_m64)]
    [InlineData(Code.Cmpxchg16b_m128)]
    public void CompareExchangeOfEightAndSixteenBytesAgreesWithTheHost(Code code)
    {
        int seed = OperandValues.Seed(6000 + (int)code);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 400; i++)
        {
            var c = RandomOperands.Case(code, values);
            var ins = c.Instruction;
            int at = c.MemoryOffset();
            if (code == Code.Cmpxchg16b_m128 && !values.OneIn(4))
            {
                // Aligned, mostly: a misaligned one raises #GP(0).
                c.Set(ins.MemoryBase, c.Gpr[DifferentialCase.RegisterIndex(ins.MemoryBase)] - (ulong)(at & 15));
                at -= at & 15;
            }
            if (values.OneIn(2))
            {
                var data = c.InitialData();
                ulong low = BitConverter.ToUInt64(data, at);
                if (code == Code.Cmpxchg8b_m64)
                {
                    c.Gpr[0] = (c.Gpr[0] & ~0xFFFF_FFFFUL) | (uint)low;
                    c.Gpr[2] = (c.Gpr[2] & ~0xFFFF_FFFFUL) | (low >> 32);
                }
                else
                {
                    c.Gpr[0] = low;
                    c.Gpr[2] = values.OneIn(8) ? ~BitConverter.ToUInt64(data, at + 8) : BitConverter.ToUInt64(data, at + 8);
                }
            }
            cases.Add(c);
        }
        _runner.AssertAgree(cases, seed);
    }
}
