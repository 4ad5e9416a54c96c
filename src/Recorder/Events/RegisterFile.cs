using VmReplay.Engine.Vm;

namespace VmReplay.Recorder.Events;

/// <summary>The general registers, RIP and RFLAGS as a flat array, in struct kvm_regs order.</summary>
public static class RegisterFile
{
    /// <summary>Where RIP and RFLAGS stand in the array.</summary>
    public const int Rip = 16, Rflags = 17;

    public static ulong[] From(in GeneralRegisters r) =>
        [r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rsp, r.Rbp, r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.Rip, r.Rflags];

    /// <summary>A hash of the registers, for the end-of-run check.</summary>
    public static ulong Hash(in GeneralRegisters r)
    {
        ulong h = 14695981039346656037;
        foreach (ulong v in From(r))
        {
            h ^= v;
            h *= 1099511628211;
        }
        return h;
    }
}
