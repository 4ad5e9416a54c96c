
namespace VmReplay.Engine.Vm;

/// <summary>
/// Puts an XSAVE area in one canonical form so that equal FPU/SSE state gives equal bytes.
/// </summary>
/// <remarks>
/// XSTATE_BV bit i clear means "component i is in its initial configuration" and the bytes of
/// that component are then stale. Whether the host's XSAVE(OPT/S) clears a bit depends on host
/// history (init optimisation, which context last used the FPU), not on the guest: a replay saw
/// XSTATE_BV 0 where the recording had 2 with the same all-zero XMM registers. Writing the
/// initial values and setting the bit for x87 and SSE makes the area a function of the guest's
/// state alone. Only those two components are touched: they are always in KVM's user xfeatures,
/// so KVM_SET_XSAVE accepts the bits; components beyond them keep what the host wrote.
/// </remarks>
public static class XsaveArea
{
    private const int XstateBvDword = 512 / 4;
    private const ulong X87 = 1, Sse = 2;

    public static unsafe XsaveState Canonical(XsaveState area)
    {
        uint* r = area.Region;
        ulong bv = r[XstateBvDword] | ((ulong)r[XstateBvDword + 1] << 32);
        var bytes = new Span<byte>(r, 4096);
        if ((bv & X87) == 0)
        {
            // FCW 037F; FSW, abridged FTW (all empty), FOP, FIP, FDP and ST0-7 zero. MXCSR (bytes
            // 24-31) belongs to neither init rule: XRSTOR loads it from memory regardless.
            bytes[..24].Clear();
            bytes[0] = 0x7F; bytes[1] = 0x03;
            bytes[32..160].Clear();
        }
        if ((bv & Sse) == 0) bytes[160..416].Clear(); // XMM0-15
        bv |= X87 | Sse;
        r[XstateBvDword] = (uint)bv;
        r[XstateBvDword + 1] = (uint)(bv >> 32);
        return area;
    }
}
