namespace VmReplay.Engine.Memory;

/// <summary>The control-register state that decides how a linear address is translated.</summary>
public readonly record struct PagingContext(ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer)
{
    internal const ulong Cr0Pe = 1UL << 0, Cr0Wp = 1UL << 16, Cr0Pg = 1UL << 31;
    internal const ulong Cr4Pse = 1UL << 4, Cr4Pae = 1UL << 5, Cr4La57 = 1UL << 12, Cr4Smep = 1UL << 20;
    internal const ulong EferLma = 1UL << 10, EferNxe = 1UL << 11;

    public PagingMode Mode =>
        (Cr0 & Cr0Pg) == 0 ? PagingMode.None
        : (Efer & EferLma) != 0 ? ((Cr4 & Cr4La57) != 0 ? PagingMode.FiveLevel : PagingMode.FourLevel)
        : (Cr4 & Cr4Pae) != 0 ? PagingMode.Pae
        : PagingMode.ThirtyTwoBit;
}

/// <summary>The paging structure in force (Intel SDM vol. 3A, 4.1.1).</summary>
public enum PagingMode { None, ThirtyTwoBit, Pae, FourLevel, FiveLevel }
