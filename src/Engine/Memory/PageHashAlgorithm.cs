namespace VmReplay.Engine.Memory;

/// <summary>The hash function of a <see cref="PageSetHash"/>: which one a value was made with is the trace format's to say.</summary>
public enum PageHashAlgorithm
{
    /// <summary>SHA-256, its first 8 bytes as a little-endian u64 (trace format versions 1 to 4).</summary>
    Sha256,

    /// <summary>
    /// XXH3-64 with seed 0 (trace format 5 on): the same bytes hashed several times faster. The
    /// value guards against a replay that went wrong, not against an adversary, and a u64 of
    /// SHA-256 gave no more than that.
    /// </summary>
    Xxh3,
}
