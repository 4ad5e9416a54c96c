namespace VmReplay.Engine.Kvm.Abi;

/// <summary>
/// Byte offsets inside the shared <c>struct kvm_run</c> page. The page is read through these
/// rather than a C# struct because its exit union has a dozen shapes; a test checks every
/// offset against the kernel header.
/// </summary>
internal static class KvmRunLayout
{
    internal const int RequestInterruptWindow = 0;
    internal const int ImmediateExit = 1;
    internal const int ExitReason = 8;
    internal const int ReadyForInterruptInjection = 12;
    internal const int IfFlag = 13;
    internal const int Flags = 14;
    internal const int Cr8 = 16;
    internal const int ApicBase = 24;
    internal const int ExitUnion = 32;

    // union member io
    internal const int IoDirection = 32;
    internal const int IoSize = 33;
    internal const int IoPort = 34;
    internal const int IoCount = 36;
    internal const int IoDataOffset = 40;

    // union member mmio
    internal const int MmioPhysAddr = 32;
    internal const int MmioData = 40;
    internal const int MmioLen = 48;
    internal const int MmioIsWrite = 52;

    // union member fail_entry
    internal const int FailEntryReason = 32;
    internal const int FailEntryCpu = 40;

    // union member internal
    internal const int InternalSuberror = 32;
    internal const int InternalNdata = 36;
    internal const int InternalData = 40;

    // union member debug.arch
    internal const int DebugException = 32;
    internal const int DebugPc = 40;
    internal const int DebugDr6 = 48;
    internal const int DebugDr7 = 56;

    // union member system_event
    internal const int SystemEventType = 32;
    internal const int SystemEventNdata = 36;
    internal const int SystemEventData = 40;

    // union member msr
    internal const int MsrError = 32;
    internal const int MsrReason = 40;
    internal const int MsrIndex = 44;
    internal const int MsrData = 48;

    // union member hw
    internal const int HwExitReason = 32;

    internal static IEnumerable<(string Name, int Value)> All() =>
    [
        ("request_interrupt_window", RequestInterruptWindow), ("immediate_exit", ImmediateExit), ("exit_reason", ExitReason),
        ("ready_for_interrupt_injection", ReadyForInterruptInjection), ("if_flag", IfFlag), ("flags", Flags), ("cr8", Cr8),
        ("apic_base", ApicBase), ("io.direction", IoDirection), ("io.size", IoSize), ("io.port", IoPort), ("io.count", IoCount),
        ("io.data_offset", IoDataOffset), ("mmio.phys_addr", MmioPhysAddr), ("mmio.data", MmioData), ("mmio.len", MmioLen),
        ("mmio.is_write", MmioIsWrite), ("fail_entry.hardware_entry_failure_reason", FailEntryReason), ("fail_entry.cpu", FailEntryCpu),
        ("internal.suberror", InternalSuberror), ("internal.ndata", InternalNdata), ("internal.data", InternalData),
        ("debug.arch.exception", DebugException), ("debug.arch.pc", DebugPc), ("debug.arch.dr6", DebugDr6), ("debug.arch.dr7", DebugDr7),
        ("system_event.type", SystemEventType), ("system_event.ndata", SystemEventNdata), ("system_event.data", SystemEventData),
        ("msr.error", MsrError), ("msr.reason", MsrReason), ("msr.index", MsrIndex), ("msr.data", MsrData),
        ("hw.hardware_exit_reason", HwExitReason),
    ];
}
