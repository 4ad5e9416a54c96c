using VmReplay.Engine.Emulation;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.SoftCpu.X87Fpu;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>The MMX registers as a view of the x87 data registers (SDM vol. 1, 9.5).</summary>
public class MmxViewTests
{
    [Fact]
    public unsafe void WritingAnMmxRegisterSetsItsSignificandExponentOnesTopZeroAndAllTagsValid()
    {
        using var m = new SoftCpuMachine(64, a => a.hlt());
        var c = m.Cpu;
        c.FpuTop = 5;
        c.FpuTagValid = 0;
        c.WriteMmx(3, 0x0123_4567_89AB_CDEF);
        Assert.Equal(0x0123_4567_89AB_CDEFUL, c.ReadMmx(3));
        Assert.Equal(new Float80(0xFFFF, 0x0123_4567_89AB_CDEF), c.Fpr[3]);
        Assert.Equal(0, c.FpuTop);
        Assert.Equal(0xFF, c.FpuTagValid);
        // With TOP = 0, MM3 is ST(3) in the saved state (stack order) and the tags say all valid.
        var fpu = m.State().Fpu;
        Assert.Equal(0xFF, fpu.Ftwx);
        Assert.Equal(0x0123_4567_89AB_CDEFUL, *(ulong*)(fpu.Fpr + 48));
        Assert.Equal(0xFFFF, *(ushort*)(fpu.Fpr + 56));
        Assert.Equal(0, (fpu.Fsw >> 11) & 7);
    }

    [Fact]
    public void MmxRegistersArePhysicalRegistersWhateverTop()
    {
        using var m = new SoftCpuMachine(64, a => a.hlt());
        var c = m.Cpu;
        c.Fpr[6] = new Float80(0x3FFF, 0x8000_0000_0000_0001);
        c.FpuTop = 2;
        Assert.Equal(0x8000_0000_0000_0001UL, c.ReadMmx(6));
    }

    [Fact]
    public void EmmsEmptiesEveryRegister()
    {
        using var m = new SoftCpuMachine(64, a => a.hlt());
        m.Cpu.WriteMmx(0, 1);
        m.Cpu.Emms();
        Assert.Equal(0, m.Cpu.FpuTagValid);
        Assert.Equal(0, m.State().Fpu.Ftwx);
    }

    [Theory]
    [InlineData(Processor.Cr0Em, GuestException.InvalidOpcode)]
    [InlineData(Processor.Cr0Ts, Processor.DeviceNotAvailableVector)]
    [InlineData(Processor.Cr0Em | Processor.Cr0Ts, GuestException.InvalidOpcode)]
    public void MmxChecksRaiseUdForEmBeforeNmForTs(ulong cr0Bits, byte vector)
    {
        using var m = new SoftCpuMachine(64, a => a.hlt());
        m.Cpu.Cr0 |= cr0Bits;
        var e = Assert.Throws<GuestException>(m.Cpu.CheckMmx);
        Assert.Equal(vector, e.Vector);
    }

    [Fact]
    public void MmxCheckRaisesMfForAPendingX87ExceptionWithNe()
    {
        using var m = new SoftCpuMachine(64, a => a.hlt());
        var c = m.Cpu;
        c.Fcw = 0x037E; // invalid operation unmasked
        c.FswBits = Processor.FswIe;
        c.UpdateErrorSummary();
        c.CheckMmx(); // CR0.NE clear: FERR# is not wired, nothing is raised
        c.Cr0 |= Processor.Cr0Ne;
        Assert.Equal(Processor.FloatingPointErrorVector, Assert.Throws<GuestException>(c.CheckMmx).Vector);
    }
}
