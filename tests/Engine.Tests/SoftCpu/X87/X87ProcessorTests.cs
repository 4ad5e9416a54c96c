using System.Buffers.Binary;
using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.SoftCpu.X87Fpu;
using static Iced.Intel.AssemblerRegisters;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu.X87;

/// <summary>
/// The x87 in the modes the host cannot run for the differential tests: real mode (the 14- and
/// 28-byte real-mode environment layouts with linear instruction pointers, #NM and #MF through
/// the IVT), 32-bit protected mode (the protected layouts, FSAVE/FRSTOR and the 32-bit FXSAVE
/// layout), and the x87 state through the engine's <see cref="FpuRegisters"/>.
/// </summary>
public class X87ProcessorTests
{
    private const ulong NmHandler = 0x500, MfHandler = 0x510, Image = 0x2000;

    /// <summary>A real-mode machine whose IVT sends #NM and #MF to a HLT each.</summary>
    private static SoftCpuMachine RealMode(Action<Assembler> program)
    {
        var m = new SoftCpuMachine(16, program);
        m.Memory.WriteUInt32(7 * 4, (uint)NmHandler);
        m.Memory.WriteUInt32(16 * 4, (uint)MfHandler);
        m.Memory.WriteByte(NmHandler, 0xF4);
        m.Memory.WriteByte(MfHandler, 0xF4);
        return m;
    }

    private static ushort Word(SoftCpuMachine m, ulong at) => (ushort)m.Memory.ReadUInt32(at);

    [Fact]
    public void RealModeEnvironmentHasTheLinearInstructionPointerAndOpcode()
    {
        using var m = RealMode(a =>
        {
            a.fninit();      // DB E3, at 0
            a.fld1();        // D9 E8, at 2
            a.fldpi();       // D9 EB, at 4
            a.faddp(st1, st0); // DE C1, at 6
            a.mov(bx, (ushort)Image);
            a.fnstenv(__[bx]);
            a.db(0x66);      // operand size 32: the 28-byte layout
            a.fnstenv(__[bx + 0x20]);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(0x037F, Word(m, Image));
        Assert.Equal(7 << 11 | Processor.FswPe, Word(m, Image + 2) & ~Processor.FswC1);
        Assert.Equal(0x3FFF, Word(m, Image + 4));          // R7 valid, the rest empty
        Assert.Equal(0x0006, Word(m, Image + 6));          // FIP 15:0 of linear 0x10006
        Assert.Equal(1 << 12 | 0x6C1, Word(m, Image + 8)); // FIP 19:16, FOP of DE C1
        // The 28-byte layout: FIP 31:16 in bits 27:12 beside the opcode.
        Assert.Equal(0xFFFF_037Fu, m.Memory.ReadUInt32(Image + 0x20));
        Assert.Equal(0xFFFF_0006u, m.Memory.ReadUInt32(Image + 0x20 + 12));
        Assert.Equal(1u << 12 | 0x6C1, m.Memory.ReadUInt32(Image + 0x20 + 16));
        // FNSTENV masks every exception afterwards.
        Assert.Equal(0x037F, m.Cpu.Fcw);
    }

    [Fact]
    public void EmulationBitRaisesNmBeforeAnythingChanges()
    {
        using var m = RealMode(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (int)Processor.Cr0Em);
            a.mov(cr0, eax);
            a.fld1();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(NmHandler + 1, m.Cpu.LinearRip);
        Assert.Equal(0, m.Cpu.FpuTagValid);
    }

    [Theory]
    [InlineData(Processor.Cr0Ts, false)]
    [InlineData(Processor.Cr0Ts | Processor.Cr0Mp, true)]
    public void WaitRaisesNmOnlyWithTsAndMp(ulong bits, bool faults)
    {
        using var m = RealMode(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (int)bits);
            a.mov(cr0, eax);
            a.wait();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(faults, m.Cpu.LinearRip == NmHandler + 1);
    }

    [Fact]
    public void UnmaskedStackUnderflowIsPendingUntilTheNextWaitingInstruction()
    {
        using var m = RealMode(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (int)Processor.Cr0Ne);
            a.mov(cr0, eax);
            a.fninit();
            a.mov(bx, (ushort)Image);
            a.mov(__word_ptr[bx], 0x037E);  // invalid operation unmasked
            a.fldcw(__word_ptr[bx]);
            a.fadd(st0, st1);              // both empty: stack underflow, nothing written
            a.fnstsw(ax);                  // no-wait: no #MF
            a.fld1();                      // waiting: #MF here
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(MfHandler + 1, m.Cpu.LinearRip);
        ushort fsw = (ushort)m.State().Regs.Rax;
        Assert.Equal(Processor.FswB | Processor.FswEs | Processor.FswSf | Processor.FswIe, fsw);
        Assert.Equal(0, m.Cpu.FpuTagValid);
        // The return address on the stack is the FLD1's (D9 E8), which runs again after the handler.
        ulong sp = m.State().Regs.Rsp & 0xFFFF;
        ulong ip = m.Memory.ReadUInt32(sp) & 0xFFFF;
        Assert.Equal(0xE8D9u, m.Memory.ReadUInt32(SoftCpuMachine.CodeBase + ip) & 0xFFFF);
    }

    [Fact]
    public void ProtectedModeSaveAndRestoreRoundTrip()
    {
        using var m = new SoftCpuMachine(32, a =>
        {
            a.fninit();
            a.fldpi();
            a.fld1();
            a.fldz();
            a.fchs();
            a.mov(ebx, (uint)Image);
            a.fnstenv(__[ebx]);            // 28 bytes, protected layout
            a.fnsave(__[ebx + 0x40]);      // 108 bytes, then FNINIT
            a.fld1();                      // something to be overwritten
            a.frstor(__[ebx + 0x40]);
            a.fxsave(__[ebx + 0x100]);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var c = m.Cpu;
        Assert.Equal(5, c.FpuTop);
        Assert.Equal(0b1110_0000, c.FpuTagValid);
        Assert.Equal(Float80.Zero(true), c.St(0));
        Assert.Equal(Float80.One, c.St(1));
        Assert.Equal(X87Constants.Pi(RoundingMode.Nearest), c.St(2));
        // FNSTENV: the tag word worked out from the contents (zero, valid, valid), FCS:FIP of the FCHS.
        Assert.Equal(0xFFFF_0000u | 0b00_00_01_11_11_11_11_11, m.Memory.ReadUInt32(Image + 8)); // R7..R0
        Assert.Equal(8u, m.Memory.ReadUInt32(Image + 12) - (uint)SoftCpuMachine.CodeBase);
        Assert.Equal(0x08u | (0x1E0u << 16), m.Memory.ReadUInt32(Image + 16)); // FCS 8, FOP of D9 E0
        // FXSAVE in 32-bit mode: abridged tags, ST0 at 32, FCS at 12.
        Assert.Equal(0b1110_0000, m.Memory.ReadByte(Image + 0x100 + 4));
        Assert.Equal(8, Word(m, Image + 0x100 + 12));
        Assert.Equal(0x1F80u, m.Memory.ReadUInt32(Image + 0x100 + 24));
        Assert.Equal(0xFFFFu, m.Memory.ReadUInt32(Image + 0x100 + 28));
        Assert.Equal(0x8000, Word(m, Image + 0x100 + 32 + 8));
    }

    [Fact]
    public unsafe void StateGoesThroughKvmFpuUnchanged()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.fninit();
            a.fldl2t();
            a.fldlg2();
            a.fdivp(st1, st0);
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        var c = m.Cpu;
        var (top, valid, fsw, fip, fop, first) = (c.FpuTop, c.FpuTagValid, c.Fsw, c.Fip, c.Fop, c.St(0));
        Assert.Equal(0x6F9, fop); // DE F9
        c.InitX87();
        c.LoadState(s);
        Assert.Equal((top, valid, fsw, fip, fop, first), (c.FpuTop, c.FpuTagValid, c.Fsw, c.Fip, c.Fop, c.St(0)));
        // kvm_fpu keeps ST(0) first, as FXSAVE.
        var f = s.Fpu;
        Assert.Equal(first, Float80.FromBytes(new ReadOnlySpan<byte>(f.Fpr, 10)));
        Assert.Equal(valid, f.Ftwx);
        Assert.Equal(SoftCpuMachine.CodeBase + 6, f.LastIp);
    }
}
