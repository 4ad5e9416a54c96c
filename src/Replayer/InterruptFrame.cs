using VmReplay.Engine.Emulation;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Replayer;

/// <summary>The interrupt frame a delivery pushes, as a memory access: what an access watchpoint sees of a delivery.</summary>
internal static class InterruptFrame
{
    /// <summary>
    /// The frame a delivery just pushed, from the state at the handler's entry (SDM vol. 3A 6.12,
    /// 6.14): 64-bit mode pushes SS, RSP, RFLAGS, CS, RIP (40 bytes); protected mode EFLAGS, CS,
    /// EIP and, from an outer privilege level, SS and ESP (32-bit gates); real mode FLAGS, CS, IP.
    /// </summary>
    public static MemoryAccess JustPushed(VcpuState state, GuestMemory memory)
    {
        var s = state.Sregs;
        if ((s.Cr0 & 1) == 0) return new MemoryAccess(s.Ss.Base + (state.Regs.Rsp & 0xFFFF), 6, false, true);
        if ((s.Efer & (1UL << 10)) != 0) return new MemoryAccess(state.Regs.Rsp, 40, false, true);
        ulong sp = s.Ss.Db != 0 ? state.Regs.Rsp & 0xFFFF_FFFF : state.Regs.Rsp & 0xFFFF;
        ulong linear = (s.Ss.Base + sp) & 0xFFFF_FFFF;
        int size = 12;
        // The pushed CS (at +4) tells whether the delivery came from an outer privilege level.
        var t = PageWalker.Translate(memory, state.Paging, (linear + 4) & 0xFFFF_FFFF);
        Span<byte> cs = stackalloc byte[2];
        if (t.IsValid && memory.TryRead(t.PhysicalAddress, cs) && (cs[0] & 3) != (s.Cs.Selector & 3)) size = 20;
        return new MemoryAccess(linear, size, false, true);
    }
}
