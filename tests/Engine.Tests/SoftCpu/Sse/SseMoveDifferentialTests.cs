using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// The SSE/SSE2/MMX moves (aligned, unaligned, scalar, halves, MOVD/MOVQ, non-temporal, masked),
/// MOVMSKPS/MOVMSKPD/PMOVMSKB, MOVQ2DQ/MOVDQ2Q, EMMS, LDMXCSR/STMXCSR against the host CPU.
/// </summary>
public sealed class SseMoveDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public static TheoryData<Mnemonic> Moves => new()
    {
        Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movdqa, Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqu,
        Mnemonic.Movntps, Mnemonic.Movntpd, Mnemonic.Movntdq, Mnemonic.Movnti, Mnemonic.Movntq,
        Mnemonic.Movss, Mnemonic.Movsd, Mnemonic.Movlps, Mnemonic.Movlpd, Mnemonic.Movhps, Mnemonic.Movhpd, Mnemonic.Movhlps, Mnemonic.Movlhps,
        Mnemonic.Movd, Mnemonic.Movq, Mnemonic.Movq2dq, Mnemonic.Movdq2q,
        Mnemonic.Maskmovdqu, Mnemonic.Maskmovq, Mnemonic.Movmskps, Mnemonic.Movmskpd, Mnemonic.Pmovmskb,
        Mnemonic.Emms, Mnemonic.Stmxcsr,
    };

    [Theory]
    [MemberData(nameof(Moves))]
    public void AgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7400 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed) { MisalignedOneIn = 6 };
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 120; i++)
                cases.Add(builder.Case(code, Lanes.Integer, Lanes.Integer));
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void LdmxcsrTakesEveryWritableBitAndFaultsOnReservedOnes()
    {
        int seed = OperandValues.Seed(7499);
        var values = new OperandValues(seed);
        var cases = new List<DifferentialCase>();
        for (int i = 0; i < 300; i++)
        {
            // Mostly valid values; every reserved bit on its own too, but bit 17, which AMD
            // processors have (MXCSR.MM, misaligned SSE) and this processor, like Intel's, does not.
            ulong v = i < 16 ? 1UL << (16 + i) : values.OneIn(4) ? values.Next(32) : values.Next(16);
            if ((v & 0x2_0000) != 0) v = values.Next(16);
            cases.Add(DifferentialCase.Of(a => a.ldmxcsr(__dword_ptr[rbx + 0x40]))
                .PointAt(Register.RBX, 0).Poke(0x40, v, 4)
                .SetMxcsr(0x1F80).Comparing(StateParts.Sse));
        }
        _runner.AssertAgree(cases, seed);
    }

    [Fact]
    public void AccessesRunningOffTheBufferFaultWithoutWritingAnything()
    {
        int seed = OperandValues.Seed(7498);
        var values = new OperandValues(seed);
        var forms = new List<Action<Assembler>>
        {
            a => a.movups(xmm1, __xmmword_ptr[rbx]),
            a => a.movups(__xmmword_ptr[rbx], xmm1),
            a => a.movdqu(__xmmword_ptr[rbx], xmm1),
            a => a.movsd(__qword_ptr[rbx], xmm1),
            a => a.movhps(__qword_ptr[rbx], xmm1),
            a => a.movq(mm1, __qword_ptr[rbx]),
            a => a.movq(__qword_ptr[rbx], mm1),
            a => a.addsd(xmm1, __qword_ptr[rbx]),
            a => a.maskmovdqu(xmm1, xmm2),
        };
        var cases = new List<DifferentialCase>();
        foreach (var form in forms)
            foreach (int offset in new[] { 0xFF8, 0xFF9, 0xFFC, 0xFF0, -8, -1, 0xFF8 })
            {
                bool noMask = offset == 0xFF8 && cases.Count % 7 == 6;
                var c = DifferentialCase.Of(form).PointAt(Register.RBX, offset).PointAt(Register.RDI, offset)
                    .SetXmm(1, values.Next(64), values.Next(64))
                    // MASKMOVDQU: every byte selected, only those inside the buffer, or none.
                    .SetXmm(2, noMask ? 0 : values.OneIn(2) ? ulong.MaxValue : 0x8080_8080_8080_8080UL, noMask || values.OneIn(2) ? 0 : ulong.MaxValue)
                    .Comparing(StateParts.Sse | StateParts.X87);
                cases.Add(c);
            }
        _runner.AssertAgree(cases, seed);
    }
}
