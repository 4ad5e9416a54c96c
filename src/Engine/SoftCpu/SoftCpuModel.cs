using System.Text;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The processor the software CPU presents: a 64-bit Intel-compatible CPU with exactly the
/// features it implements, the same on every host (nothing is taken from the host's CPUID, so a
/// recording made anywhere replays anywhere). What it offers, by leaf:
/// <list type="bullet">
/// <item>0: highest basic leaf 7, "GenuineIntel".</item>
/// <item>1: family 6 model 15 stepping 1 (a Core 2 signature: no model-specific errata paths in
/// Linux); EDX: FPU, DE, PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV, PAT, PSE-36, CLFLUSH, MMX, FXSR,
/// SSE, SSE2; ECX: CMPXCHG16B. No APIC, MTRR, MCE/MCA, x2APIC, XSAVE, AVX, RDRAND, hypervisor bit.</item>
/// <item>7: SMEP (a supervisor-mode fetch from a user page faults, as the page walker checks).</item>
/// <item>0x80000001: SYSCALL, NX, LM, LAHF/SAHF in 64-bit mode.</item>
/// <item>0x80000002-4: the brand string "vmreplay software x86-64 CPU".</item>
/// <item>0x80000008: 40 physical and 48 linear address bits.</item>
/// </list>
/// RDTSC is deterministic here (it reads the engine clock through the VMM), so TSC is offered.
/// </summary>
public static class SoftCpuModel
{
    public const string Brand = "vmreplay software x86-64 CPU";

    // Leaf 1 EDX bits (SDM vol. 2A, CPUID, table 3-11).
    private const uint Fpu = 1 << 0, De = 1 << 2, Pse = 1 << 3, Tsc = 1 << 4, Msr = 1 << 5, Pae = 1 << 6, Cx8 = 1 << 8,
        Sep = 1 << 11, Pge = 1 << 13, Cmov = 1 << 15, Pat = 1 << 16, Pse36 = 1 << 17, Clfsh = 1 << 19, Mmx = 1 << 23,
        Fxsr = 1 << 24, Sse = 1 << 25, Sse2 = 1 << 26;
    // Leaf 1 ECX.
    private const uint Cx16 = 1 << 13;
    // Leaf 7 EBX.
    private const uint Smep = 1 << 7;
    // Leaf 0x80000001.
    private const uint LahfLm = 1 << 0;
    private const uint Syscall = 1 << 11, Nx = 1 << 20, Lm = 1 << 29;

    public const uint Signature = 0x0000_06F1;

    /// <summary>The leaf table.</summary>
    public static CpuidTable Build()
    {
        var brand = Encoding.ASCII.GetBytes(Brand.PadRight(48, '\0'));
        uint Word(int n) => BitConverter.ToUInt32(brand, n * 4);
        Backend.CpuidEntry[] leaves =
        [
            new(0, 0, 7, Ascii("Genu"), Ascii("ntel"), Ascii("ineI")),
            new(1, 0, Signature, (8u << 8) | (1u << 16), Cx16,
                Fpu | De | Pse | Tsc | Msr | Pae | Cx8 | Sep | Pge | Cmov | Pat | Pse36 | Clfsh | Mmx | Fxsr | Sse | Sse2),
            new(2, 0, 0, 0, 0, 0),
            new(3, 0, 0, 0, 0, 0),
            new(4, 0, 0, 0, 0, 0),
            new(5, 0, 0, 0, 0, 0),
            new(6, 0, 0, 0, 0, 0),
            new(7, 0, 0, Smep, 0, 0),
            new(0x8000_0000, 0, 0x8000_0008, 0, 0, 0),
            new(0x8000_0001, 0, 0, 0, LahfLm, Syscall | Nx | Lm),
            new(0x8000_0005, 0, 0, 0, 0, 0),
            new(0x8000_0006, 0, 0, 0, 0, 0),
            new(0x8000_0007, 0, 0, 0, 0, 0),
            new(0x8000_0008, 0, 0x3028, 0, 0, 0),
            new(0x8000_0002, 0, Word(0), Word(1), Word(2), Word(3)),
            new(0x8000_0003, 0, Word(4), Word(5), Word(6), Word(7)),
            new(0x8000_0004, 0, Word(8), Word(9), Word(10), Word(11)),
        ];
        return new CpuidTable(leaves, Cpu.CpuidSubleaves.Leaves);
    }

    private static uint Ascii(string four) => BitConverter.ToUInt32(Encoding.ASCII.GetBytes(four));
}
