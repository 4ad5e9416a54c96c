using Iced.Intel;
using VmReplay.Engine.SoftCpu.X87Fpu;
using VmReplay.Engine.Tests.SoftCpu.Differential;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// The control instructions and state images against the host x87, in 64-bit mode: FNSTENV,
/// FLDENV, FNSAVE, FRSTOR (the 28/108-byte protected-mode layouts), FXSAVE/FXRSTOR with and
/// without REX.W (and the #GP of an unaligned operand), FLDCW/FNSTCW with every bit pattern,
/// FNSTSW, FNCLEX, FNINIT, and #MF for a pending unmasked exception at waiting instructions.
/// FXSAVE and FXRSTOR carry XMM0-15 and MXCSR through the SSE unit's hooks.
/// The last instruction and data pointers are not compared: the host's AMD x87 saves them only
/// while an exception is pending.
/// </summary>
public sealed class X87ControlDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    /// <summary>A random x87 state: control word, status word (flags, condition codes, TOP), some registers empty.</summary>
    private static DifferentialCase RandomState(Action<Assembler> emit, Float80Values values)
    {
        var stack = new Float80[8];
        for (int i = 0; i < 8; i++) stack[i] = values.Next();
        ushort fcw = (ushort)((values.Values.Next(16) & 0x1F3F) | 0x40 | 0x3F);
        if (values.Values.OneIn(3)) fcw &= 0xFFC0 | 0x3E; // invalid operation unmasked
        ushort flags = (ushort)(values.Values.Next(16) & 0x477FUL & ~0x80UL);
        // ES as the x87 would have it for these flags and masks.
        if ((flags & ~fcw & 0x3F) != 0) flags |= 0x8080;
        return X87Cases.Of(emit, fcw, values.Values.Between(0, 8), stack, flags, validTags: (byte)values.Values.Random64());
    }

    /// <summary>XMM0-15 random in the state the case starts from.</summary>
    private static DifferentialCase WithRandomXmm(DifferentialCase c, Float80Values values)
    {
        for (int i = 0; i < 16; i++) c.SetXmm(i, values.Values.Random64(), values.Values.Random64());
        return c;
    }

    [Fact]
    public void EnvironmentAndSaveImagesAgree()
    {
        int seed = OperandValues.Seed(9600);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 60; i++)
        {
            cases.Add(RandomState(a => a.fnstenv(__[rbx]), values));
            cases.Add(RandomState(a => a.fnsave(__[rbx]), values));
            cases.Add(WithRandomXmm(RandomState(a => a.fxsave64(__[rbx]), values), values));
            cases.Add(WithRandomXmm(RandomState(a => a.fxsave(__[rbx]), values), values));
        }
        foreach (var c in cases) c.Comparing(StateParts.Fpu | StateParts.Sse);
        // MXCSR_MASK (FXSAVE bytes 28-31) is the host's own: this processor's is 0000FFFF.
        AssertAgreeExcept(cases, seed, 0x100 + 28, 4);
    }

    /// <summary>Like <see cref="DifferentialRunner.AssertAgree"/>, with <paramref name="length"/> bytes of the buffer at <paramref name="offset"/> taken as the soft CPU left them.</summary>
    private void AssertAgreeExcept(List<DifferentialCase> cases, int seed, int offset, int length)
    {
        var bad = new List<string>();
        foreach (var r in _runner.Run(cases))
        {
            if (r.Native.Failure is null && r.Soft.Failure is null) r.Soft.Data.AsSpan(offset, length).CopyTo(r.Native.Data.AsSpan(offset, length));
            if (DifferentialRunner.Difference(r.Case, r.Native, r.Soft) is { } difference) bad.Add($"{r.Case.Text}: {difference}");
        }
        Assert.True(bad.Count == 0, $"{bad.Count} of {cases.Count} cases differ (seed {seed}):\n" + string.Join("\n", bad.Take(12)));
    }

    [Fact]
    public void LoadingImagesAgree()
    {
        int seed = OperandValues.Seed(9700);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 60; i++)
        {
            // An environment or state image of random words and registers (reserved bits random too).
            var env = RandomState(a => a.fldenv(__[rbx]), values);
            for (int k = 0; k < 28; k += 8) env.Poke(0x100 + k, values.Values.Random64(), Math.Min(8, 28 - k));
            cases.Add(env);
            var save = RandomState(a => a.frstor(__[rbx]), values);
            for (int k = 0; k < 28; k += 8) save.Poke(0x100 + k, values.Values.Random64(), Math.Min(8, 28 - k));
            for (int r = 0; r < 8; r++)
            {
                var v = values.Next();
                save.Poke(0x100 + 28 + 10 * r, v.Significand).Poke(0x100 + 28 + 10 * r + 8, v.SignExponent, 2);
            }
            cases.Add(save);
            var fx = RandomState(a => a.fxrstor64(__[rbx]), values);
            fx.Poke(0x100, values.Values.Random64()).Poke(0x108, values.Values.Random64()).Poke(0x110, values.Values.Random64());
            // MXCSR: valid mostly, a reserved bit set now and then (#GP).
            fx.Poke(0x118, values.Values.OneIn(8) ? 0x1_0000UL | 0x1F80 : 0x1F80 | (values.Values.Random64() & 0x7F), 4);
            for (int r = 0; r < 8; r++)
            {
                var v = values.Next();
                fx.Poke(0x100 + 32 + 16 * r, v.Significand).Poke(0x100 + 32 + 16 * r + 8, v.SignExponent, 2);
            }
            for (int r = 0; r < 32; r++) fx.Poke(0x100 + 160 + 8 * r, values.Values.Random64());
            cases.Add(WithRandomXmm(fx, values).Comparing(StateParts.Fpu | StateParts.Sse));
        }
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void ControlAndStatusWordsAgree()
    {
        int seed = OperandValues.Seed(9800);
        var values = new Float80Values(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 40; i++)
        {
            cases.Add(RandomState(a => a.fldcw(__word_ptr[rbx]), values).Poke(0x100, values.Values.Next(16), 2));
            cases.Add(RandomState(a => a.fnstcw(__word_ptr[rbx]), values));
            cases.Add(RandomState(a => a.fnstsw(__word_ptr[rbx]), values));
            cases.Add(RandomState(a => a.fnstsw(ax), values));
            cases.Add(RandomState(a => a.fnclex(), values));
            cases.Add(RandomState(a => a.fninit(), values));
            // Waiting instructions: #MF when the state has an unmasked exception pending.
            cases.Add(RandomState(a => a.wait(), values));
            cases.Add(RandomState(a => a.fld1(), values));
            cases.Add(RandomState(a => a.fadd(st0, st1), values));
            cases.Add(RandomState(a => a.fnop(), values));
        }
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void UnalignedStateImagesRaiseGp()
    {
        var cases = new List<DifferentialCase>
        {
            DifferentialCase.Of(a => a.fxsave64(__[rbx])).PointAt(Register.RBX, 0x108).Comparing(StateParts.Integer),
            DifferentialCase.Of(a => a.fxrstor(__[rbx])).PointAt(Register.RBX, 0x104).Comparing(StateParts.Integer),
        };
        _runner.AssertAgree(cases, 0);
    }
}
