using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using static VmReplay.Engine.SoftCpu.Instructions.PackedIntegerOperations;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// The two-operand packed integer instructions in their XMM (SSE2) and MMX forms: add and
/// subtract with and without saturation, multiplies, averages, minimum and maximum, PSADBW,
/// compares, logic (and ANDPS/ANDNPS/ORPS/XORPS and the PD forms, the same bits), packs and
/// unpacks (UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD among them). The XMM forms check as SSE
/// instructions and take an aligned m128; the MMX forms check as MMX instructions and leave
/// the x87 unit in MMX state.
/// </summary>
internal static unsafe class PackedInteger
{
    /// <summary>Registers the XMM forms, or with <paramref name="mmxForms"/> the MMX ones.</summary>
    public static void Register(HandlerTable t, bool mmxForms)
    {
        foreach (var code in HandlerTable.AllCodes)
        {
            if (!SseInstructionSet.Includes(code) || SseInstructionSet.IsMmxForm(code) != mmxForms) continue;
            switch (code.Mnemonic())
            {
                case Mnemonic.Paddb: Add<AddBytes>(t, code); break;
                case Mnemonic.Paddw: Add<AddWords>(t, code); break;
                case Mnemonic.Paddd: Add<AddDwords>(t, code); break;
                case Mnemonic.Paddq: Add<AddQwords>(t, code); break;
                case Mnemonic.Psubb: Add<SubtractBytes>(t, code); break;
                case Mnemonic.Psubw: Add<SubtractWords>(t, code); break;
                case Mnemonic.Psubd: Add<SubtractDwords>(t, code); break;
                case Mnemonic.Psubq: Add<SubtractQwords>(t, code); break;
                case Mnemonic.Paddsb: Add<AddSignedSaturateBytes>(t, code); break;
                case Mnemonic.Paddsw: Add<AddSignedSaturateWords>(t, code); break;
                case Mnemonic.Paddusb: Add<AddUnsignedSaturateBytes>(t, code); break;
                case Mnemonic.Paddusw: Add<AddUnsignedSaturateWords>(t, code); break;
                case Mnemonic.Psubsb: Add<SubtractSignedSaturateBytes>(t, code); break;
                case Mnemonic.Psubsw: Add<SubtractSignedSaturateWords>(t, code); break;
                case Mnemonic.Psubusb: Add<SubtractUnsignedSaturateBytes>(t, code); break;
                case Mnemonic.Psubusw: Add<SubtractUnsignedSaturateWords>(t, code); break;
                case Mnemonic.Pmullw: Add<MultiplyLowWords>(t, code); break;
                case Mnemonic.Pmulhw: Add<MultiplyHighSignedWords>(t, code); break;
                case Mnemonic.Pmulhuw: Add<MultiplyHighUnsignedWords>(t, code); break;
                case Mnemonic.Pmuludq: Add<MultiplyUnsignedDwords>(t, code); break;
                case Mnemonic.Pmaddwd: Add<MultiplyAddWords>(t, code); break;
                case Mnemonic.Pavgb: Add<AverageBytes>(t, code); break;
                case Mnemonic.Pavgw: Add<AverageWords>(t, code); break;
                case Mnemonic.Pminub: Add<MinimumUnsignedBytes>(t, code); break;
                case Mnemonic.Pmaxub: Add<MaximumUnsignedBytes>(t, code); break;
                case Mnemonic.Pminsw: Add<MinimumSignedWords>(t, code); break;
                case Mnemonic.Pmaxsw: Add<MaximumSignedWords>(t, code); break;
                case Mnemonic.Psadbw: Add<SumAbsoluteDifferences>(t, code); break;
                case Mnemonic.Pcmpeqb: Add<EqualBytes>(t, code); break;
                case Mnemonic.Pcmpeqw: Add<EqualWords>(t, code); break;
                case Mnemonic.Pcmpeqd: Add<EqualDwords>(t, code); break;
                case Mnemonic.Pcmpgtb: Add<GreaterBytes>(t, code); break;
                case Mnemonic.Pcmpgtw: Add<GreaterWords>(t, code); break;
                case Mnemonic.Pcmpgtd: Add<GreaterDwords>(t, code); break;
                case Mnemonic.Pand or Mnemonic.Andps or Mnemonic.Andpd: Add<And>(t, code); break;
                case Mnemonic.Pandn or Mnemonic.Andnps or Mnemonic.Andnpd: Add<AndNot>(t, code); break;
                case Mnemonic.Por or Mnemonic.Orps or Mnemonic.Orpd: Add<Or>(t, code); break;
                case Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd: Add<Xor>(t, code); break;
                case Mnemonic.Packsswb: Add<PackSignedWords, MmxPackSignedWords>(t, code); break;
                case Mnemonic.Packssdw: Add<PackSignedDwords, MmxPackSignedDwords>(t, code); break;
                case Mnemonic.Packuswb: Add<PackUnsignedWords, MmxPackUnsignedWords>(t, code); break;
                case Mnemonic.Punpcklbw: Add<UnpackLowBytes>(t, code); break;
                case Mnemonic.Punpcklwd: Add<UnpackLowWords>(t, code); break;
                case Mnemonic.Punpckldq or Mnemonic.Unpcklps: Add<UnpackLowDwords>(t, code); break;
                case Mnemonic.Punpcklqdq or Mnemonic.Unpcklpd: Add<UnpackLowQwords>(t, code); break;
                case Mnemonic.Punpckhbw: Add<UnpackHighBytes, MmxUnpackHighBytes>(t, code); break;
                case Mnemonic.Punpckhwd: Add<UnpackHighWords, MmxUnpackHighWords>(t, code); break;
                case Mnemonic.Punpckhdq or Mnemonic.Unpckhps: Add<UnpackHighDwords, MmxUnpackHighDwords>(t, code); break;
                case Mnemonic.Punpckhqdq or Mnemonic.Unpckhpd: Add<UnpackHighQwords>(t, code); break;
            }
        }
    }

    private static void Add<T>(HandlerTable t, Code code) where T : struct, IPackedIntegerOperation => Add<T, T>(t, code);

    private static void Add<TXmm, TMmx>(HandlerTable t, Code code)
        where TXmm : struct, IPackedIntegerOperation where TMmx : struct, IPackedIntegerOperation =>
        t.Add(code, SseInstructionSet.IsMmxForm(code) ? &Mmx<TMmx> : &Xmm<TXmm>);

    private static bool Xmm<T>(Processor c, ref DecodedInstruction d) where T : struct, IPackedIntegerOperation
    {
        c.CheckSse();
        var b = Xmm128(c, ref d);
        ref var a = ref c.XmmRegister(Xmm0(ref d));
        a = T.Apply(a, b);
        return true;
    }

    private static bool Mmx<T>(Processor c, ref DecodedInstruction d) where T : struct, IPackedIntegerOperation
    {
        c.CheckMmx();
        ulong b = Mm64(c, ref d);
        int dst = Mm0(ref d);
        var r = T.Apply(Vector128.CreateScalar(c.ReadMmx(dst)).AsByte(), Vector128.CreateScalar(b).AsByte());
        c.WriteMmx(dst, r.AsUInt64().GetElement(0));
        return true;
    }
}
