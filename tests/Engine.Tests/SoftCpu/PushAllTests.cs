using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// PUSHA/PUSHAD and POPA/POPAD, which do not exist in 64-bit mode (the host cannot run them in
/// the differential tests): the SDM's order (AX, CX, DX, BX, the original SP, BP, SI, DI) and
/// POPA's skipped SP, checked by hand.
/// </summary>
public class PushAllTests
{
    [Fact]
    public void PushadStoresTheRegistersInOrderWithTheOriginalEsp()
    {
        using var m = new SoftCpuMachine(32, a =>
        {
            a.mov(eax, 0xA0); a.mov(ecx, 0xC0); a.mov(edx, 0xD0); a.mov(ebx, 0xB0);
            a.mov(ebp, 0xBB); a.mov(esi, 0x51); a.mov(edi, 0xD1);
            a.pushad();
            a.mov(eax, 0); a.mov(ecx, 0); a.mov(edx, 0); a.mov(ebx, 0); a.mov(ebp, 0); a.mov(esi, 0); a.mov(edi, 0);
            a.mov(__dword_ptr[esp + 12], 0x12345); // POPAD must skip the saved ESP
            a.popad();
            a.hlt();
        });
        // Stop right after PUSHAD (7 moves and it) to see what it stored.
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Run(limit: 8));
        ulong top = SoftCpuMachine.StackTop;
        uint[] expected = [0xD1, 0x51, 0xBB, (uint)top, 0xB0, 0xD0, 0xC0, 0xA0]; // from the lowest address
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i], m.Memory.ReadUInt32(top - 32 + (ulong)(4 * i)));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal((0xA0UL, 0xC0UL, 0xD0UL, 0xB0UL), (s.Regs.Rax, s.Regs.Rcx, s.Regs.Rdx, s.Regs.Rbx));
        Assert.Equal((0xBBUL, 0x51UL, 0xD1UL, top), (s.Regs.Rbp, s.Regs.Rsi, s.Regs.Rdi, s.Regs.Rsp));
    }

    [Fact]
    public void PushaInRealModeUsesWordsAndSp()
    {
        using var m = new SoftCpuMachine(16, a =>
        {
            a.mov(eax, 0x1111_00A0); a.mov(di, 0xD1);
            a.pusha();
            a.hlt();
        });
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        var s = m.State();
        Assert.Equal(0xFFF0UL - 16, s.Regs.Rsp & 0xFFFF);
        Assert.Equal(0xD1, m.Memory.ReadUInt16(0xFFF0 - 16));     // DI lowest
        Assert.Equal(0xFFF0, m.Memory.ReadUInt16(0xFFF0 - 16 + 6)); // the original SP
        Assert.Equal(0xA0, m.Memory.ReadUInt16(0xFFF0 - 2));       // AX highest, a word
    }
}
