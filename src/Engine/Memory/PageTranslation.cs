namespace VmReplay.Engine.Memory;

/// <summary>
/// The outcome of translating one linear address: where it maps, and (when it maps) the rights
/// the whole walk grants, which a TLB caches to serve later accesses of another kind.
/// </summary>
public readonly record struct PageTranslation(PageTranslationStatus Status, ulong PhysicalAddress, uint PageFaultErrorCode, ulong PageSize, PageRights Rights = PageRights.All)
{
    public bool IsValid => Status == PageTranslationStatus.Ok;

    /// <summary>Bytes from the address to the end of its page (how far a contiguous access may go).</summary>
    public ulong BytesToPageEnd(ulong linear) => PageSize - (linear & (PageSize - 1));
}

/// <summary>What a mapping allows, combined over every level of the walk.</summary>
[Flags]
public enum PageRights
{
    None = 0,
    Write = 1,
    User = 2,
    Execute = 4,
    All = Write | User | Execute,
}

public enum PageTranslationStatus
{
    Ok,
    /// <summary>The walk raises #PF with <see cref="PageTranslation.PageFaultErrorCode"/>.</summary>
    PageFault,
    /// <summary>A non-canonical address in 64-bit mode: #GP (or #SS), not #PF.</summary>
    NonCanonical,
    /// <summary>A paging structure lies outside guest RAM.</summary>
    TableOutsideRam,
    /// <summary>A paging mode vmreplay does not walk (5-level).</summary>
    Unsupported,
}
