using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>Pops from the guest stack at SS:RSP with the stack width of the mode; RSP changes only on commit.</summary>
internal sealed class GuestStack(VcpuState state, GuestLinearMemory memory, bool user)
{
    private ulong _rsp = state.Regs.Rsp;

    private int Width => state.Is64BitMode ? 8 : state.Sregs.Ss.Db != 0 ? 4 : 2;

    public ulong Pop(int size)
    {
        ulong sp = Width switch { 8 => _rsp, 4 => _rsp & 0xFFFF_FFFF, _ => _rsp & 0xFFFF };
        ulong linear = state.Is64BitMode ? sp : state.Sregs.Ss.Base + sp;
        if (!state.Is64BitMode) linear &= 0xFFFF_FFFF;
        ulong value = memory.ReadUInt(linear, size, user);
        ulong next = sp + (ulong)size;
        _rsp = Width switch
        {
            8 => next,
            4 => (_rsp & ~0xFFFF_FFFFUL) | (next & 0xFFFF_FFFF),
            _ => (_rsp & ~0xFFFFUL) | (next & 0xFFFF),
        };
        return value;
    }

    public void CommitRsp() => state.Regs.Rsp = _rsp;
}
