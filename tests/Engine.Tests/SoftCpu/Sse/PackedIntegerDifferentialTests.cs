using Iced.Intel;
using VmReplay.Engine.Tests.SoftCpu.Differential;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// The packed integer instructions, shifts, shuffles, unpacks, logic and PEXTRW/PINSRW in their
/// XMM and MMX forms against the host CPU (MMX forms compare the x87 registers, tags and TOP
/// too: they share them).
/// </summary>
public sealed class PackedIntegerDifferentialTests : IDisposable
{
    private readonly DifferentialRunner _runner = new();

    public void Dispose() => _runner.Dispose();

    public static TheoryData<Mnemonic> Instructions => new()
    {
        Mnemonic.Paddb, Mnemonic.Paddw, Mnemonic.Paddd, Mnemonic.Paddq, Mnemonic.Psubb, Mnemonic.Psubw, Mnemonic.Psubd, Mnemonic.Psubq,
        Mnemonic.Paddsb, Mnemonic.Paddsw, Mnemonic.Paddusb, Mnemonic.Paddusw, Mnemonic.Psubsb, Mnemonic.Psubsw, Mnemonic.Psubusb, Mnemonic.Psubusw,
        Mnemonic.Pmullw, Mnemonic.Pmulhw, Mnemonic.Pmulhuw, Mnemonic.Pmuludq, Mnemonic.Pmaddwd, Mnemonic.Pavgb, Mnemonic.Pavgw,
        Mnemonic.Pminub, Mnemonic.Pmaxub, Mnemonic.Pminsw, Mnemonic.Pmaxsw, Mnemonic.Psadbw,
        Mnemonic.Pcmpeqb, Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pcmpgtb, Mnemonic.Pcmpgtw, Mnemonic.Pcmpgtd,
        Mnemonic.Pand, Mnemonic.Pandn, Mnemonic.Por, Mnemonic.Pxor,
        Mnemonic.Andps, Mnemonic.Andpd, Mnemonic.Andnps, Mnemonic.Andnpd, Mnemonic.Orps, Mnemonic.Orpd, Mnemonic.Xorps, Mnemonic.Xorpd,
        Mnemonic.Packsswb, Mnemonic.Packssdw, Mnemonic.Packuswb,
        Mnemonic.Punpcklbw, Mnemonic.Punpcklwd, Mnemonic.Punpckldq, Mnemonic.Punpcklqdq,
        Mnemonic.Punpckhbw, Mnemonic.Punpckhwd, Mnemonic.Punpckhdq, Mnemonic.Punpckhqdq,
        Mnemonic.Unpcklps, Mnemonic.Unpckhps, Mnemonic.Unpcklpd, Mnemonic.Unpckhpd,
        Mnemonic.Psllw, Mnemonic.Pslld, Mnemonic.Psllq, Mnemonic.Psrlw, Mnemonic.Psrld, Mnemonic.Psrlq, Mnemonic.Psraw, Mnemonic.Psrad,
        Mnemonic.Pslldq, Mnemonic.Psrldq,
        Mnemonic.Shufps, Mnemonic.Shufpd, Mnemonic.Pshufd, Mnemonic.Pshufhw, Mnemonic.Pshuflw, Mnemonic.Pshufw,
        Mnemonic.Pextrw, Mnemonic.Pinsrw,
    };

    [Theory]
    [MemberData(nameof(Instructions))]
    public void AgreesWithTheHost(Mnemonic mnemonic)
    {
        int seed = OperandValues.Seed(7300 + (int)mnemonic);
        var builder = new SseCaseBuilder(seed);
        var cases = new List<DifferentialCase>();
        foreach (var code in SseCodes.Of(mnemonic))
            for (int i = 0; i < 150; i++)
                cases.Add(builder.Case(code, Lanes.Integer, Lanes.Integer));
        _runner.AssertAgree(cases, seed);
    }
}
