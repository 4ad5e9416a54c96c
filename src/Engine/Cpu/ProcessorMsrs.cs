namespace VmReplay.Engine.Cpu;

/// <summary>
/// The MSRs a vCPU answers by itself, on either backend: the ones the processor's own operation
/// reads (EFER, the segment bases, the fast-system-call MSRs, PAT) and the two Linux reads without
/// a fault handler. Every other MSR access is an exit the VMM answers (<see cref="MsrModel"/>):
/// the software CPU exits for it, and KVM is given a filter that denies it all the others. So a
/// guest makes the same MSR exits and sees the same values on both, and a recording made on one
/// replays on the other (a KVM recording of Linux answered AMD's OSVW MSR in the kernel, with no
/// exit to record, where the software CPU exited for it).
/// </summary>
public static class ProcessorMsrs
{
    public const uint UcodeRev = 0x8B, MiscEnable = 0x1A0, Pat = 0x277;

    /// <summary>Every MSR the vCPU answers itself, as (first index, count) ranges.</summary>
    public static readonly (uint First, uint Count)[] Ranges =
    [
        (UcodeRev, 1),     // microcode revision (Intel: write 0, CPUID, read; AMD: patch level)
        (0x174, 3),        // IA32_SYSENTER_CS/ESP/EIP
        (MiscEnable, 1),
        (Pat, 1),
        (0xC000_0080, 5),  // EFER, STAR, LSTAR, CSTAR, SFMASK
        (0xC000_0100, 3),  // FS_BASE, GS_BASE, KERNEL_GS_BASE
    ];

    /// <summary>
    /// The values a vCPU starts with where they are not zero or architectural state, which KVM
    /// would otherwise answer with its own (a microcode revision of 0x100000000, MISC_ENABLE's
    /// "PEBS/BTS unavailable" bits).
    /// </summary>
    public static readonly (uint Index, ulong Value)[] ResetValues =
    [
        (UcodeRev, 0),
        (MiscEnable, 1),                   // fast strings
        (Pat, 0x0007_0406_0007_0406),      // the power-up PAT
    ];

    /// <summary>Whether the vCPU answers <paramref name="index"/> itself.</summary>
    public static bool Contains(uint index)
    {
        foreach (var (first, count) in Ranges)
            if (index - first < count) return true;
        return false;
    }
}
