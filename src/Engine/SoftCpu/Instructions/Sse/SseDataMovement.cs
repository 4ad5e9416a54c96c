using System.Runtime.Intrinsics;
using Iced.Intel;
using VmReplay.Engine.SoftCpu.Decoding;
using VmReplay.Engine.SoftCpu.SseFloat;
using static VmReplay.Engine.SoftCpu.Instructions.SseOperands;

namespace VmReplay.Engine.SoftCpu.Instructions;

/// <summary>
/// SSE/SSE2 moves (SDM vol. 2): MOVAPS/MOVAPD/MOVDQA and the non-temporal MOVNTPS/MOVNTPD/MOVNTDQ
/// (16-byte aligned), MOVUPS/MOVUPD/MOVDQU, MOVSS/MOVSD, MOVLPS/MOVLPD/MOVHPS/MOVHPD,
/// MOVHLPS/MOVLHPS, MOVD/MOVQ between XMM and general registers or memory, MOVQ2DQ/MOVDQ2Q,
/// MOVNTI, MASKMOVDQU, MOVMSKPS/MOVMSKPD/PMOVMSKB, LDMXCSR/STMXCSR. Non-temporal hints change
/// nothing here: there is no cache to bypass.
/// </summary>
internal static unsafe class SseDataMovement
{
    public static void Register(HandlerTable t)
    {
        t.Add([Code.Movaps_xmm_xmmm128, Code.Movapd_xmm_xmmm128, Code.Movdqa_xmm_xmmm128], &LoadAligned);
        t.Add([Code.Movups_xmm_xmmm128, Code.Movupd_xmm_xmmm128, Code.Movdqu_xmm_xmmm128], &LoadUnaligned);
        t.Add([Code.Movaps_xmmm128_xmm, Code.Movapd_xmmm128_xmm, Code.Movdqa_xmmm128_xmm,
            Code.Movntps_m128_xmm, Code.Movntpd_m128_xmm, Code.Movntdq_m128_xmm], &StoreAligned);
        t.Add([Code.Movups_xmmm128_xmm, Code.Movupd_xmmm128_xmm, Code.Movdqu_xmmm128_xmm], &StoreUnaligned);
        t.Add(Code.Movss_xmm_xmmm32, &MovssLoad);
        t.Add(Code.Movss_xmmm32_xmm, &MovssStore);
        t.Add(Code.Movsd_xmm_xmmm64, &MovsdLoad);
        t.Add(Code.Movsd_xmmm64_xmm, &MovsdStore);
        t.Add([Code.Movlps_xmm_m64, Code.Movlpd_xmm_m64], &LoadLow);
        t.Add([Code.Movhps_xmm_m64, Code.Movhpd_xmm_m64], &LoadHigh);
        t.Add([Code.Movlps_m64_xmm, Code.Movlpd_m64_xmm], &StoreLow);
        t.Add([Code.Movhps_m64_xmm, Code.Movhpd_m64_xmm], &StoreHigh);
        t.Add(Code.Movhlps_xmm_xmm, &Movhlps);
        t.Add(Code.Movlhps_xmm_xmm, &Movlhps);
        t.Add([Code.Movd_xmm_rm32, Code.Movq_xmm_rm64], &MovdToXmm);
        t.Add([Code.Movd_rm32_xmm, Code.Movq_rm64_xmm], &MovdFromXmm);
        t.Add(Code.Movq_xmm_xmmm64, &MovqLoad);
        t.Add(Code.Movq_xmmm64_xmm, &MovqStore);
        t.Add(Code.Movq2dq_xmm_mm, &Movq2dq);
        t.Add(Code.Movdq2q_mm_xmm, &Movdq2q);
        t.Add([Code.Movnti_m32_r32, Code.Movnti_m64_r64], &Movnti);
        t.Add(Code.Maskmovdqu_rDI_xmm_xmm, &Maskmovdqu);
        t.Add([Code.Movmskps_r32_xmm, Code.Movmskps_r64_xmm], &Movmskps);
        t.Add([Code.Movmskpd_r32_xmm, Code.Movmskpd_r64_xmm], &Movmskpd);
        t.Add([Code.Pmovmskb_r32_xmm, Code.Pmovmskb_r64_xmm], &Pmovmskb);
        t.Add(Code.Ldmxcsr_m32, &Ldmxcsr);
        t.Add(Code.Stmxcsr_m32, &Stmxcsr);
    }

    private static bool LoadAligned(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmRegister(Xmm0(ref d)) = Xmm128(c, ref d, aligned: true);
        return true;
    }

    private static bool LoadUnaligned(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmRegister(Xmm0(ref d)) = Xmm128(c, ref d, aligned: false);
        return true;
    }

    private static bool StoreAligned(Processor c, ref DecodedInstruction d) => Store(c, ref d, aligned: true);

    private static bool StoreUnaligned(Processor c, ref DecodedInstruction d) => Store(c, ref d, aligned: false);

    private static bool Store(Processor c, ref DecodedInstruction d, bool aligned)
    {
        c.CheckSse();
        var v = c.XmmRegister(Xmm1(ref d));
        if (d.Kind0 == OperandKind.Memory) c.Write128(c.LinearAddress(ref d), v, aligned);
        else c.XmmRegister(Xmm0(ref d)) = v;
        return true;
    }

    // MOVSS/MOVSD: between registers only the low element moves; a load clears the rest.
    private static bool MovssLoad(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        if (d.Kind1 == OperandKind.Memory) c.XmmRegister(dst) = Vector128.CreateScalar(c.Read32(c.LinearAddress(ref d))).AsByte();
        else c.XmmDword(dst, 0) = c.XmmDword(Xmm1(ref d), 0);
        return true;
    }

    private static bool MovssStore(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        uint v = c.XmmDword(Xmm1(ref d), 0);
        if (d.Kind0 == OperandKind.Memory) c.Write32(c.LinearAddress(ref d), v);
        else c.XmmDword(Xmm0(ref d), 0) = v;
        return true;
    }

    private static bool MovsdLoad(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int dst = Xmm0(ref d);
        if (d.Kind1 == OperandKind.Memory) c.XmmRegister(dst) = Vector128.CreateScalar(c.Read64(c.LinearAddress(ref d))).AsByte();
        else c.XmmQword(dst, 0) = c.XmmQword(Xmm1(ref d), 0);
        return true;
    }

    private static bool MovsdStore(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        ulong v = c.XmmQword(Xmm1(ref d), 0);
        if (d.Kind0 == OperandKind.Memory) c.Write64(c.LinearAddress(ref d), v);
        else c.XmmQword(Xmm0(ref d), 0) = v;
        return true;
    }

    private static bool LoadLow(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmQword(Xmm0(ref d), 0) = c.Read64(c.LinearAddress(ref d));
        return true;
    }

    private static bool LoadHigh(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmQword(Xmm0(ref d), 1) = c.Read64(c.LinearAddress(ref d));
        return true;
    }

    private static bool StoreLow(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.Write64(c.LinearAddress(ref d), c.XmmQword(Xmm1(ref d), 0));
        return true;
    }

    private static bool StoreHigh(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.Write64(c.LinearAddress(ref d), c.XmmQword(Xmm1(ref d), 1));
        return true;
    }

    private static bool Movhlps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmQword(Xmm0(ref d), 0) = c.XmmQword(Xmm1(ref d), 1);
        return true;
    }

    private static bool Movlhps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmQword(Xmm0(ref d), 1) = c.XmmQword(Xmm1(ref d), 0);
        return true;
    }

    // MOVD/MOVQ xmm, r/m32 or r/m64: zero-extended to 128 bits.
    private static bool MovdToXmm(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int size = d.I.Code == Code.Movq_xmm_rm64 ? 8 : 4;
        c.XmmRegister(Xmm0(ref d)) = Vector128.CreateScalar(c.ReadOperand(ref d, 1, size)).AsByte();
        return true;
    }

    private static bool MovdFromXmm(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        int size = d.I.Code == Code.Movq_rm64_xmm ? 8 : 4;
        c.WriteOperand0(ref d, size, c.XmmQword(Xmm1(ref d), 0));
        return true;
    }

    // MOVQ xmm, xmm/m64 and MOVQ xmm/m64, xmm: the low quadword, the high one cleared in a register.
    private static bool MovqLoad(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.XmmRegister(Xmm0(ref d)) = Vector128.CreateScalar(Xmm64(c, ref d)).AsByte();
        return true;
    }

    private static bool MovqStore(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        ulong v = c.XmmQword(Xmm1(ref d), 0);
        if (d.Kind0 == OperandKind.Memory) c.Write64(c.LinearAddress(ref d), v);
        else c.XmmRegister(Xmm0(ref d)) = Vector128.CreateScalar(v).AsByte();
        return true;
    }

    // SSE2 instructions on an MMX register: the SSE checks, then a pending x87 exception (#MF).
    private static bool Movq2dq(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.CheckMmx();
        c.XmmRegister(Xmm0(ref d)) = Vector128.CreateScalar(c.ReadMmx(Mm1(ref d))).AsByte();
        c.EnterMmx();
        return true;
    }

    private static bool Movdq2q(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.CheckMmx();
        c.WriteMmx(Mm0(ref d), c.XmmQword(Xmm1(ref d), 0));
        return true;
    }

    // MOVNTI stores a general register: no SSE state is involved, so none of its checks apply.
    private static bool Movnti(Processor c, ref DecodedInstruction d)
    {
        int size = d.I.Code == Code.Movnti_m64_r64 ? 8 : 4;
        c.Write(c.LinearAddress(ref d), size, c.ReadReg(d.Reg1, size));
        return true;
    }

    /// <summary>
    /// The linear address DS:rDI (or the override segment) MASKMOVDQU and MASKMOVQ store to, at
    /// the instruction's address size.
    /// </summary>
    internal static ulong MaskedStoreAddress(Processor c, ref DecodedInstruction d)
    {
        ulong rdi = c.R(Processor.Rdi);
        ulong offset = d.I.Op0Kind switch
        {
            OpKind.MemorySegDI => rdi & 0xFFFF,
            OpKind.MemorySegEDI => rdi & 0xFFFF_FFFF,
            _ => rdi,
        };
        return c.Linear(d.I.MemorySegment - Iced.Intel.Register.ES, offset);
    }

    /// <summary>
    /// Stores the bytes of <paramref name="data"/> whose <paramref name="mask"/> byte has its top
    /// bit set. The whole range is checked first, selected or not (the SDM leaves faults on
    /// unselected bytes to the implementation; the processors raise them).
    /// </summary>
    internal static void MaskedStore(Processor c, ulong la, ReadOnlySpan<byte> data, ReadOnlySpan<byte> mask)
    {
        c.ProbeWrite(la, data.Length);
        for (int i = 0; i < data.Length; i++)
            if ((mask[i] & 0x80) != 0) c.Write8((la + (ulong)i) & c.LinearMask, data[i]);
    }

    private static bool Maskmovdqu(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        Span<byte> data = stackalloc byte[16], mask = stackalloc byte[16];
        c.XmmRegister(Xmm1(ref d)).CopyTo(data);
        c.XmmRegister(d.I.Op2Register - Iced.Intel.Register.XMM0).CopyTo(mask);
        MaskedStore(c, MaskedStoreAddress(c, ref d), data, mask);
        return true;
    }

    private static bool Movmskps(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.WriteReg(d.Reg0, d.Size0, c.XmmRegister(Xmm1(ref d)).AsUInt32().ExtractMostSignificantBits());
        return true;
    }

    private static bool Movmskpd(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.WriteReg(d.Reg0, d.Size0, c.XmmRegister(Xmm1(ref d)).AsUInt64().ExtractMostSignificantBits());
        return true;
    }

    private static bool Pmovmskb(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.WriteReg(d.Reg0, d.Size0, c.XmmRegister(Xmm1(ref d)).ExtractMostSignificantBits());
        return true;
    }

    private static bool Ldmxcsr(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        uint v = c.Read32(c.LinearAddress(ref d));
        if ((v & ~MxcsrBits.Writable) != 0) throw Processor.Gp();
        c.Mxcsr = v;
        return true;
    }

    private static bool Stmxcsr(Processor c, ref DecodedInstruction d)
    {
        c.CheckSse();
        c.Write32(c.LinearAddress(ref d), c.Mxcsr);
        return true;
    }
}
