namespace VmReplay.Engine.Backend;

/// <summary>
/// What the recording host's KVM offered (probed by the KVM backend, <c>KvmCapabilities</c>):
/// plain data a trace header keeps, so that a replay or a diff can say what the recording host
/// could do. Null for a recording on the software CPU.
/// </summary>
public sealed record HostCapabilities(
    bool UserSpaceMsr,
    bool MsrFilter,
    bool ReadonlyMemory,
    bool ImmediateExit,
    bool GuestDebug,
    bool Xsave,
    bool Xcrs,
    bool VcpuEvents,
    bool DebugRegs,
    bool TscControl,
    int MaxVcpus);
