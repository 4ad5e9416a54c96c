namespace VmReplay.Replayer;

/// <summary>
/// A breakpoint or watchpoint hit on a CPU that counts instructions, exact: <paramref name="At"/>
/// is where the run stopped for it (before a breakpoint's instruction, after a watched access),
/// <paramref name="Before"/> where the instruction that hit began (a reverse motion stops there;
/// for a breakpoint, the same place). <paramref name="Address"/> is the breakpoint's address or
/// the watched range's as the debugger gave it. <paramref name="Note"/> says what made an access
/// no instruction made (an interrupt delivery pushing its frame).
/// </summary>
public sealed record InstructionHit(HitKind Kind, ulong Address, InstructionPosition At, InstructionPosition Before, string? Note = null);
