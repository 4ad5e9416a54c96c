namespace VmReplay.Engine.Emulation;

/// <summary>The outcome of emulating one instruction.</summary>
/// <param name="Instruction">The instruction in Intel syntax, e.g. <c>lock cmpxchg16b [rbp+20h]</c>.</param>
/// <param name="Rip">Its address (RIP, not the linear address).</param>
public readonly record struct EmulationResult(EmulationStatus Status, string Instruction, ulong Rip, byte Vector = 0, uint? ErrorCode = null, string? Reason = null);
