using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// x87 arithmetic against the host's x87: results, status word (condition codes, exception
/// flags, ES, TOP) and tags, under every rounding mode and precision control, with random and
/// edge operands (see <see cref="Float80Values"/>) and some unmasked exceptions.
/// </summary>
public sealed class X87ArithmeticDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public static TheoryData<int, int> RoundingAndPrecision()
    {
        var data = new TheoryData<int, int>();
        for (int rc = 0; rc < 4; rc++)
            foreach (int pc in new[] { 24, 53, 64 })
                data.Add(rc, pc);
        return data;
    }

    private static readonly Action<Assembler>[] RegisterForms =
    [
        a => a.fadd(st0, st1), a => a.fsub(st0, st1), a => a.fsubr(st0, st1), a => a.fmul(st0, st1), a => a.fdiv(st0, st1), a => a.fdivr(st0, st1),
        a => a.fadd(st1, st0), a => a.fsub(st1, st0), a => a.fdivr(st1, st0), a => a.faddp(st1, st0), a => a.fmulp(st1, st0), a => a.fdivp(st1, st0),
        a => a.fsubrp(st1, st0), a => a.fsqrt(),
    ];

    [Theory]
    [MemberData(nameof(RoundingAndPrecision))]
    public void RegisterArithmeticAgrees(int rounding, int precision)
    {
        int seed = OperandValues.Seed(8700 + rounding * 100 + precision);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        foreach (var form in RegisterForms)
            for (int i = 0; i < 30; i++)
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, precision, unmaskSome: values.Values.OneIn(6)), values.Next(), values.Next()));
        _runner.AssertAgree(cases, seed);
    }

    [Theory]
    [MemberData(nameof(RoundingAndPrecision))]
    public void MemoryOperandArithmeticAgrees(int rounding, int precision)
    {
        int seed = OperandValues.Seed(8800 + rounding * 100 + precision);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        Action<Assembler>[] singles = [a => a.fadd(__dword_ptr[rbx]), a => a.fsubr(__dword_ptr[rbx]), a => a.fmul(__dword_ptr[rbx]), a => a.fdiv(__dword_ptr[rbx])];
        Action<Assembler>[] doubles = [a => a.fsub(__qword_ptr[rbx]), a => a.fmul(__qword_ptr[rbx]), a => a.fdivr(__qword_ptr[rbx]), a => a.fadd(__qword_ptr[rbx])];
        Action<Assembler>[] integers = [a => a.fiadd(__word_ptr[rbx]), a => a.fisub(__dword_ptr[rbx]), a => a.fimul(__dword_ptr[rbx]), a => a.fidivr(__word_ptr[rbx]), a => a.fidiv(__dword_ptr[rbx])];
        for (int i = 0; i < 25; i++)
        {
            foreach (var form in singles)
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, precision, values.Values.OneIn(6)), values.Next()).Poke(0x100, values.NextSingle(), 4));
            foreach (var form in doubles)
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, precision, values.Values.OneIn(6)), values.Next()).Poke(0x100, values.NextDouble()));
            foreach (var form in integers)
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, precision, values.Values.OneIn(6)), values.Next()).Poke(0x100, values.Values.Next(32), 4));
        }
        _runner.AssertAgree(cases, seed);
    }

    private static readonly Action<Assembler>[] OneOperandForms =
    [
        a => a.frndint(), a => a.fchs(), a => a.fabs(), a => a.fxtract(), a => a.ftst(), a => a.fxam(),
    ];

    private static readonly Action<Assembler>[] TwoOperandForms =
    [
        a => a.fscale(), a => a.fprem(), a => a.fprem1(),
    ];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void IntegralAndScalingAgree(int rounding)
    {
        int seed = OperandValues.Seed(8900 + rounding);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        foreach (var form in OneOperandForms)
            for (int i = 0; i < 40; i++)
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, 64, values.Values.OneIn(6)), values.Next()));
        foreach (var form in TwoOperandForms)
            for (int i = 0; i < 60; i++)
            {
                var a = values.Next();
                // FSCALE by a modest power most of the time; FPREM with exponents apart by 0..100 most of the time.
                var b = values.Values.OneIn(3) ? values.Next() : values.Next(edges: false);
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, 64, values.Values.OneIn(6)), a, b));
            }
        _runner.AssertAgree(cases, seed);
    }
}
