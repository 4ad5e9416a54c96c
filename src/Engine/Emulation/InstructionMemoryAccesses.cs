using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Emulation;

/// <summary>
/// The memory the instruction at RIP will read and write, by linear address, worked out before it
/// runs: Iced's operand and implicit accesses (stack pushes and pops, string operands) with the
/// vCPU's registers and segment bases. What a debugger needs for read and access watchpoints on a
/// host where data breakpoints do not fire.
/// </summary>
public static class InstructionMemoryAccesses
{
    private static readonly ThreadLocal<InstructionInfoFactory> Factory = new(() => new InstructionInfoFactory());

    /// <summary>The accesses, or none when the instruction cannot be fetched or decoded.</summary>
    public static IReadOnlyList<MemoryAccess> Of(VcpuState state, GuestMemory memory)
    {
        Instruction instr;
        try { instr = InstructionEmulator.Fetch(state, new GuestLinearMemory(memory, state)); }
        catch (Exception e) when (e is GuestException or NotEmulatedException) { return []; }
        if (instr.IsInvalid) return [];
        var info = Factory.Value!.GetInfo(instr);
        var accesses = new List<MemoryAccess>();
        foreach (var used in info.GetUsedMemory())
        {
            bool reads = used.Access is OpAccess.Read or OpAccess.CondRead or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
            bool writes = used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite;
            if (!reads && !writes) continue;
            int size = used.MemorySize.GetSize();
            if (size == 0) continue;
            if (!used.TryGetVirtualAddress(0, out ulong address, EffectiveAddress.TryRegisterValue(state))) continue;
            accesses.Add(new MemoryAccess(state.Is64BitMode ? address : address & 0xFFFF_FFFF, size, reads, writes));
        }
        return accesses;
    }
}
