using Iced.Intel;
using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Tests.SoftCpu.Differential;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// Loads, stores and conversions against the host x87 (FLD/FST/FSTP m32/m64/m80, FILD, FIST,
/// FISTP, FBLD, FBSTP, the constants), comparisons (FCOM..FUCOMPP, FICOM, FCOMI..FUCOMIP with
/// EFLAGS), register moves (FLD/FST ST(i), FXCH, FCMOVcc, FFREE, FINCSTP, FDECSTP), and stack
/// overflow and underflow with random sets of empty registers, masked and unmasked.
/// </summary>
public sealed class X87TransferDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    private static Float80[] Stack(Float80Values values, int depth)
    {
        var stack = new Float80[depth];
        for (int i = 0; i < depth; i++) stack[i] = values.Next();
        return stack;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void StoresAndIntegerConversionsAgree(int rounding)
    {
        int seed = OperandValues.Seed(9100 + rounding);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        Action<Assembler>[] forms =
        [
            a => a.fst(__dword_ptr[rbx]), a => a.fstp(__dword_ptr[rbx]), a => a.fst(__qword_ptr[rbx]), a => a.fstp(__qword_ptr[rbx]),
            a => a.fstp(__tword_ptr[rbx]), a => a.fist(__word_ptr[rbx]), a => a.fist(__dword_ptr[rbx]), a => a.fistp(__word_ptr[rbx]),
            a => a.fistp(__dword_ptr[rbx]), a => a.fistp(__qword_ptr[rbx]), a => a.fbstp(__tword_ptr[rbx]),
        ];
        foreach (var form in forms)
            for (int i = 0; i < 50; i++)
            {
                var v = values.Next();
                // Integers near the formats' limits now and then.
                if (values.Values.OneIn(4)) v = Float80Arithmetic.FromInteger((long)values.Values.Next(64) >> values.Values.Pick(new[] { 0, 1, 32, 33, 48, 49, 4, 5 }));
                cases.Add(X87Cases.Of(form, values.ControlWord(rounding, values.Values.Pick(new[] { 24, 53, 64 }), values.Values.OneIn(5)), v));
            }
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void LoadsAgree()
    {
        int seed = OperandValues.Seed(9200);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 60; i++)
        {
            ushort fcw = values.ControlWord(values.Values.Between(0, 4), 64, values.Values.OneIn(4));
            cases.Add(X87Cases.Of(a => a.fld(__dword_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.NextSingle(), 4));
            cases.Add(X87Cases.Of(a => a.fld(__qword_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.NextDouble()));
            var raw = values.Next();
            cases.Add(X87Cases.Of(a => a.fld(__tword_ptr[rbx]), fcw, values.Next()).Poke(0x100, raw.Significand).Poke(0x108, raw.SignExponent, 2));
            cases.Add(X87Cases.Of(a => a.fild(__word_ptr[rbx]), fcw).Poke(0x100, values.Values.Next(16), 2));
            cases.Add(X87Cases.Of(a => a.fild(__dword_ptr[rbx]), fcw).Poke(0x100, values.Values.Next(32), 4));
            cases.Add(X87Cases.Of(a => a.fild(__qword_ptr[rbx]), fcw).Poke(0x100, values.Values.Next(64)));
            // Packed BCD: valid digits mostly, a sign byte of 00 or 80.
            ulong digits = 0;
            for (int k = 0; k < 16; k++) digits = digits << 4 | (uint)values.Values.Between(0, values.Values.OneIn(10) ? 16 : 10);
            ulong top = (uint)(values.Values.Between(0, 10) * 16 + values.Values.Between(0, 10)) | (values.Values.OneIn(2) ? 0x8000UL : 0);
            cases.Add(X87Cases.Of(a => a.fbld(__tword_ptr[rbx]), fcw).Poke(0x100, digits).Poke(0x108, top, 2));
        }
        foreach (var (emit, name) in new (Action<Assembler>, string)[] { (a => a.fld1(), "1"), (a => a.fldz(), "z"), (a => a.fldpi(), "pi"), (a => a.fldl2t(), "l2t"), (a => a.fldl2e(), "l2e"), (a => a.fldlg2(), "lg2"), (a => a.fldln2(), "ln2") })
            for (int rc = 0; rc < 4; rc++)
                cases.Add(X87Cases.Of(emit, values.ControlWord(rc, 64)));
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void ComparisonsAgree()
    {
        int seed = OperandValues.Seed(9300);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        Action<Assembler>[] registerForms =
        [
            a => a.fcom(st0, st1), a => a.fcomp(st0, st1), a => a.fcompp(), a => a.fucom(st0, st1), a => a.fucomp(st0, st1), a => a.fucompp(),
            a => a.fcomi(st0, st1), a => a.fcomip(st0, st1), a => a.fucomi(st0, st1), a => a.fucomip(st0, st1), a => a.fcom(st0, st2),
        ];
        foreach (var form in registerForms)
            for (int i = 0; i < 50; i++)
            {
                var a = values.Next();
                var b = values.Values.OneIn(5) ? a : values.Next();
                cases.Add(X87Cases.Of(form, values.ControlWord(0, 64, values.Values.OneIn(4)), a, b, values.Next())
                    .WithFlags(values.Values.Flags() & ~0x400UL));
            }
        for (int i = 0; i < 50; i++)
        {
            ushort fcw = values.ControlWord(0, 64, values.Values.OneIn(4));
            cases.Add(X87Cases.Of(a => a.fcom(__dword_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.NextSingle(), 4));
            cases.Add(X87Cases.Of(a => a.fcomp(__qword_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.NextDouble()));
            cases.Add(X87Cases.Of(a => a.ficom(__word_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.Values.Next(16), 2));
            cases.Add(X87Cases.Of(a => a.ficomp(__dword_ptr[rbx]), fcw, values.Next()).Poke(0x100, values.Values.Next(32), 4));
        }
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void RegisterMovesAgree()
    {
        int seed = OperandValues.Seed(9400);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        Action<Assembler>[] forms =
        [
            a => a.fld(st2), a => a.fst(st3), a => a.fstp(st1), a => a.fxch(st0, st2), a => a.ffree(st1), a => a.fincstp(), a => a.fdecstp(),
            a => a.fcmovb(st0, st1), a => a.fcmove(st0, st2), a => a.fcmovbe(st0, st1), a => a.fcmovu(st0, st1),
            a => a.fcmovnb(st0, st1), a => a.fcmovne(st0, st1), a => a.fcmovnbe(st0, st1), a => a.fcmovnu(st0, st3),
            a => a.fnop(), a => a.fchs(), a => a.fabs(),
        ];
        foreach (var form in forms)
            for (int i = 0; i < 25; i++)
                cases.Add(X87Cases.Of(form, values.ControlWord(0, 64), top: values.Values.Between(0, 8), Stack(values, 4))
                    .WithFlags(values.Values.Flags() & ~0x400UL));
        _runner.AssertAgree(cases, seed);
    }

    /// <summary>Every kind of instruction with random registers empty: stack underflow and overflow, masked and unmasked.</summary>
    [Fact]
    public void StackFaultsAgree()
    {
        int seed = OperandValues.Seed(9500);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        Action<Assembler>[] forms =
        [
            a => a.fadd(st0, st1), a => a.faddp(st2, st0), a => a.fmul(__dword_ptr[rbx]), a => a.fiadd(__word_ptr[rbx]), a => a.fsqrt(),
            a => a.fld(st1), a => a.fld(__qword_ptr[rbx]), a => a.fild(__dword_ptr[rbx]), a => a.fldpi(), a => a.fbld(__tword_ptr[rbx]),
            a => a.fst(__dword_ptr[rbx]), a => a.fstp(__tword_ptr[rbx]), a => a.fistp(__qword_ptr[rbx]), a => a.fbstp(__tword_ptr[rbx]),
            a => a.fstp(st2), a => a.fxch(st0, st1), a => a.fcom(st0, st1), a => a.fcompp(), a => a.fucomip(st0, st1), a => a.ftst(), a => a.fxam(),
            a => a.fchs(), a => a.frndint(), a => a.fscale(), a => a.fprem(), a => a.fxtract(), a => a.fcmove(st0, st1),
        ];
        foreach (var form in forms)
            for (int i = 0; i < 20; i++)
            {
                int top = values.Values.Between(0, 8);
                // A random set of registers empty.
                var c = X87Cases.Of(form, values.ControlWord(values.Values.Between(0, 4), 64, values.Values.OneIn(3)), top, Stack(values, 8), validTags: (byte)values.Values.Random64())
                    .Poke(0x100, values.Values.Random64()).Poke(0x108, values.Values.Random64())
                    .WithFlags(values.Values.Flags() & ~0x400UL);
                cases.Add(c);
            }
        _runner.AssertAgree(cases, seed);
    }
}
