using Iced.Intel;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// CMPXCHG8B m64 and CMPXCHG16B m128 (SDM vol. 2A). The vCPU is stopped, so the locked
/// read-modify-write is atomic by construction. The destination is written whether or not the
/// comparison succeeds, so write permission is checked either way.
/// </summary>
internal static class CmpxchgEmulation
{
    private const ulong ZF = 1 << 6;

    public static void Execute(VcpuState s, GuestLinearMemory mem, in Instruction instr, bool is16)
    {
        ulong linear = EffectiveAddress.Of(s, instr);
        int size = is16 ? 16 : 8;
        if (is16 && (linear & 15) != 0) throw GuestException.Gp();
        bool user = s.Cpl == 3;
        mem.ProbeWrite(linear, size, user);
        Span<byte> m = stackalloc byte[16];
        mem.Read(linear, m[..size], user);
        ulong lo = BitConverter.ToUInt64(m), hi = is16 ? BitConverter.ToUInt64(m[8..]) : 0;
        ref var r = ref s.Regs;
        bool equal = is16
            ? lo == r.Rax && hi == r.Rdx
            : lo == ((r.Rdx & 0xFFFF_FFFF) << 32 | (r.Rax & 0xFFFF_FFFF));
        Span<byte> write = stackalloc byte[16];
        if (equal)
        {
            if (is16)
            {
                BitConverter.TryWriteBytes(write, r.Rbx);
                BitConverter.TryWriteBytes(write[8..], r.Rcx);
            }
            else
            {
                BitConverter.TryWriteBytes(write, (r.Rcx & 0xFFFF_FFFF) << 32 | (r.Rbx & 0xFFFF_FFFF));
            }
        }
        else
        {
            m[..size].CopyTo(write); // the old value is written back
        }
        mem.Write(linear, write[..size], user);
        mem.Commit();
        if (equal) r.Rflags |= ZF;
        else
        {
            r.Rflags &= ~ZF;
            if (is16) { r.Rax = lo; r.Rdx = hi; }
            else { r.Rax = lo & 0xFFFF_FFFF; r.Rdx = lo >> 32; } // 32-bit writes zero-extend
        }
    }
}
