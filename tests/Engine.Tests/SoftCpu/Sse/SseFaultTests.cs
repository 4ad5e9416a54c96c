using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// What the host cannot show a user-mode test: the SSE and MMX checks of CR0.EM, CR0.TS and
/// CR4.OSFXSR (SDM vol. 3A, 13.1.3 and 2.5), #XM against #UD by CR4.OSXMMEXCPT, reserved
/// MXCSR bits, and that XMM and MXCSR survive a state save and load.
/// </summary>
public sealed class SseFaultTests
{
    private const ulong Em = 4, Ts = 8, Osfxsr = 0x200, Osxmmexcpt = 0x400;
    private const int Ud = 6, Nm = 7, Gp = 13, Xm = 19;

    // Code that divides 1.0 by 0.0 in XMM0: #Z.
    private static void DivideByZero(Assembler a)
    {
        a.mov(eax, 0x3F80_0000);
        a.movd(xmm0, eax);
        a.xorps(xmm1, xmm1);
        a.divss(xmm0, xmm1);
    }

    [Theory]
    [InlineData(0UL, Osfxsr | Osxmmexcpt, null)]
    [InlineData(Em, Osfxsr | Osxmmexcpt, Ud)]
    [InlineData(Ts, Osfxsr | Osxmmexcpt, Nm)]
    [InlineData(Em | Ts, Osfxsr | Osxmmexcpt, Ud)]
    [InlineData(0UL, 0UL, Ud)]
    [InlineData(Ts, 0UL, Ud)]
    public void SseInstructionsCheckEmTsAndOsfxsr(ulong cr0, ulong cr4, int? vector)
    {
        var r = FaultProbe.Run(a => a.addps(xmm0, xmm1), cr0, cr4);
        Assert.Equal(vector, r.Vector);
    }

    [Theory]
    [InlineData(0UL, 0UL, null)]
    [InlineData(Em, Osfxsr, Ud)]
    [InlineData(Ts, Osfxsr, Nm)]
    public void MmxInstructionsCheckEmAndTsButNotOsfxsr(ulong cr0, ulong cr4, int? vector)
    {
        Assert.Equal(vector, FaultProbe.Run(a => a.paddb(mm0, mm1), cr0, cr4).Vector);
        Assert.Equal(vector, FaultProbe.Run(a => a.emms(), cr0, cr4).Vector);
    }

    [Fact]
    public void MovntiStoresWithoutAnySseCheck()
    {
        var r = FaultProbe.Run(a =>
        {
            a.mov(eax, 0x1234_5678);
            a.movnti(__dword_ptr[FaultProbe.Scratch], eax);
        }, Em | Ts, 0);
        Assert.Null(r.Vector);
        Assert.Equal(0x1234_5678u, BitConverter.ToUInt32(r.Scratch));
    }

    [Theory]
    [InlineData(0x1F80u, Osfxsr | Osxmmexcpt, null)]
    [InlineData(0x1F80u & ~0x200u, Osfxsr | Osxmmexcpt, Xm)]
    [InlineData(0x1F80u & ~0x200u, Osfxsr, Ud)]
    public void AnUnmaskedExceptionRaisesXmOrUdAndLeavesTheDestination(uint mxcsr, ulong cr4, int? vector)
    {
        var r = FaultProbe.Run(DivideByZero, 0, cr4, mxcsr);
        Assert.Equal(vector, r.Vector);
        ulong xmm0 = BitConverter.ToUInt64(r.Xmm(0));
        // Masked: +inf; unmasked: still 1.0. ZE is set either way.
        Assert.Equal(vector is null ? 0x7F80_0000UL : 0x3F80_0000UL, xmm0);
        Assert.Equal(mxcsr | 4, r.State.Fpu.Mxcsr);
    }

    [Theory]
    [InlineData(0x1F80u, null)]
    [InlineData(0xFFFFu, null)]
    [InlineData(0x1_1F80u, Gp)]
    [InlineData(0x2_1F80u, Gp)]
    [InlineData(0x8000_1F80u, Gp)]
    public void LdmxcsrRaisesGpOnReservedBits(uint value, int? vector)
    {
        var r = FaultProbe.Run(a =>
        {
            a.mov(__dword_ptr[FaultProbe.Scratch], value);
            a.ldmxcsr(__dword_ptr[FaultProbe.Scratch]);
        }, 0, Osfxsr | Osxmmexcpt);
        Assert.Equal(vector, r.Vector);
        Assert.Equal(vector is null ? value : 0x1F80u, r.State.Fpu.Mxcsr);
        if (vector is not null) Assert.Equal(0UL, r.ErrorCode);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(8, Gp)]
    public void AlignedFormsRaiseGpOnAMisalignedOperand(int offset, int? vector)
    {
        Assert.Equal(vector, FaultProbe.Run(a => a.movaps(xmm0, __xmmword_ptr[FaultProbe.Scratch + (ulong)offset]), 0, Osfxsr).Vector);
        Assert.Equal(vector, FaultProbe.Run(a => a.addpd(xmm0, __xmmword_ptr[FaultProbe.Scratch + (ulong)offset]), 0, Osfxsr).Vector);
        Assert.Null(FaultProbe.Run(a => a.movups(xmm0, __xmmword_ptr[FaultProbe.Scratch + (ulong)offset]), 0, Osfxsr).Vector);
        Assert.Null(FaultProbe.Run(a => a.addsd(xmm0, __qword_ptr[FaultProbe.Scratch + (ulong)offset + 1]), 0, Osfxsr).Vector);
    }

    [Fact]
    public void XmmRegistersAndMxcsrSurviveSaveAndLoad()
    {
        var r = FaultProbe.Run(a =>
        {
            a.mov(rax, 0x0123_4567_89AB_CDEF);
            a.movq(xmm15, rax);
            a.pshufd(xmm15, xmm15, 0x1B);
            a.movq(xmm3, rax);
        }, 0, Osfxsr, 0x7FC0);
        // PSHUFD 1B reverses the doublewords.
        Assert.Equal(0UL, BitConverter.ToUInt64(r.Xmm(15), 0));
        Assert.Equal(0x89AB_CDEF_0123_4567UL, BitConverter.ToUInt64(r.Xmm(15), 8));
        var state = r.State;
        using var m = new SoftCpuMachine(64, a => a.hlt());
        m.Cpu.LoadState(state);
        var again = m.State();
        Assert.Equal(0x7FC0u, again.Fpu.Mxcsr);
        Assert.Equal(r.Xmm(15), FaultProbe.XmmOf(again, 15));
        Assert.Equal(r.Xmm(3), FaultProbe.XmmOf(again, 3));
    }
}
