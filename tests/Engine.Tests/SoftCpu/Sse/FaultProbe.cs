using Iced.Intel;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.SoftCpu.Sse;

/// <summary>
/// Runs a few instructions on a 64-bit <see cref="SoftCpuMachine"/> with chosen CR0/CR4 bits and
/// MXCSR, and an IDT whose vector n handler is a HLT at <see cref="Stubs"/> + n, so the
/// exception an instruction raises (if any) is read off the address the machine halted at.
/// </summary>
internal static class FaultProbe
{
    private const ulong Gdt = 0x3000, Idt = 0x4000, Stubs = 0x5000;
    /// <summary>A 16-byte aligned scratch buffer the code may use.</summary>
    public const ulong Scratch = 0x6000;

    /// <summary>The vector raised (null: the code ran to its end), its error code, the final state, the scratch buffer's first 64 bytes.</summary>
    public sealed record Result(int? Vector, ulong ErrorCode, VcpuState State, byte[] Scratch)
    {
        public byte[] Xmm(int i) => XmmOf(State, i);
    }

    public static unsafe byte[] XmmOf(VcpuState s, int i)
    {
        var fpu = s.Fpu;
        return new ReadOnlySpan<byte>(fpu.Xmm + 16 * i, 16).ToArray();
    }

    /// <summary>Runs <paramref name="code"/> then HLT with CR0 |= <paramref name="cr0"/> (and NE) and CR4 |= <paramref name="cr4"/>.</summary>
    public static Result Run(Action<Assembler> code, ulong cr0, ulong cr4, uint mxcsr = 0x1F80)
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            code(a);
            a.hlt();
        });
        m.Memory.WriteUInt64(Gdt + 8, 0x00AF_9A00_0000_FFFF);
        m.Memory.WriteUInt64(Gdt + 16, 0x00CF_9200_0000_FFFF);
        for (ulong v = 0; v < 32; v++)
        {
            ulong handler = Stubs + v;
            m.Memory.WriteUInt64(Idt + 16 * v, (handler & 0xFFFF) | (8UL << 16) | (0x8EUL << 40) | ((handler >> 16) & 0xFFFF) << 48);
            m.Memory.WriteUInt64(Idt + 16 * v + 8, handler >> 32);
            m.Memory.WriteByte(Stubs + v, 0xF4);
        }
        var s = m.State();
        s.Sregs.Gdt = new DescriptorTableRegister { Base = Gdt, Limit = 23 };
        s.Sregs.Idt = new DescriptorTableRegister { Base = Idt, Limit = 32 * 16 - 1 };
        s.Sregs.Cr0 |= cr0 | 0x20;
        s.Sregs.Cr4 |= cr4;
        s.Fpu.Mxcsr = mxcsr;
        s.Fpu.Fcw = 0x37F;
        m.Cpu.LoadState(s);
        m.Run();
        var end = m.State();
        ulong rip = end.Regs.Rip;
        int? vector = rip > Stubs && rip <= Stubs + 32 ? (int)(rip - Stubs - 1) : null;
        ulong error = vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 ? m.Memory.ReadUInt64(end.Regs.Rsp) : 0;
        var scratch = new byte[64];
        m.Memory.Read(Scratch, scratch);
        return new Result(vector, error, end, scratch);
    }
}
