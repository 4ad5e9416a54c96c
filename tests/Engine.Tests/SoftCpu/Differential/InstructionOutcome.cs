using System.Text;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>The state one CPU ended a case in.</summary>
internal sealed class InstructionOutcome
{
    /// <summary>General registers in encoding order.</summary>
    public ulong[] Gpr { get; } = new ulong[16];
    public ulong Flags { get; set; }
    /// <summary>After the instruction, or at it when it raised an exception.</summary>
    public ulong Rip { get; set; }
    /// <summary>The data buffer.</summary>
    public byte[] Data { get; set; } = [];
    /// <summary>The FXSAVE image (only when the case gave one).</summary>
    public byte[]? Fx { get; set; }
    /// <summary>The exception vector, or null.</summary>
    public int? Exception { get; set; }
    public ulong ErrorCode { get; set; }
    /// <summary>CR2 of a #PF.</summary>
    public ulong FaultAddress { get; set; }
    /// <summary>Set when the CPU could not run the case at all (the runner rejected it, the software CPU stopped with an exit).</summary>
    public string? Failure { get; set; }
    /// <summary>Something worth knowing when the outcome differs (the software CPU's report of an instruction it does not implement).</summary>
    public string? Note { get; set; }

    private static readonly string[] Names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

    public static string RegisterName(int i) => Names[i];

    /// <summary>The registers, flags, RIP and exception, one line.</summary>
    public override string ToString()
    {
        if (Failure is not null) return "failed: " + Failure;
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++) sb.Append(Names[i]).Append('=').Append(Gpr[i].ToString("x")).Append(' ');
        sb.Append($"flags={Flags & 0xCD5:x} rip={Rip:x}");
        if (Exception is { } v) sb.Append($" exception={v} error={ErrorCode:x} address={FaultAddress:x}");
        if (Note is not null) sb.Append(" (").Append(Note).Append(')');
        return sb.ToString();
    }
}
