namespace VmReplay.Engine.Cpu;

/// <summary>
/// The CPUID leaves that the SDM and AMD's APM give subleaves (ECX selects; a subleaf past the
/// last answers zeros). Both backends need to know them: the software CPU answers a subleaf a
/// recorded model leaves out with zeros, as KVM does, and the start-up probe reads the first
/// subleaves of each such leaf on a KVM host that answers some leaves itself.
/// </summary>
public static class CpuidSubleaves
{
    /// <summary>Every leaf with subleaves.</summary>
    public static readonly uint[] Leaves =
        [4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1B, 0x1D, 0x1E, 0x1F, 0x20, 0x23, 0x24, 0x8000_001D, 0x8000_0020, 0x8000_0026];

    /// <summary>
    /// How many subleaves of each such leaf the probe reads (Linux 6.1 reads leaf 7's subleaves 0
    /// to 2: subleaf 1 for Intel's PPIN among others).
    /// </summary>
    public const uint Probed = 4;
}
