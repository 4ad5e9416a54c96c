using System.Runtime.CompilerServices;
using VmReplay.Engine.Backend;

namespace VmReplay.Recorder.Events;

/// <summary>
/// The reason code an exit event stores (traces/FORMAT.md, "Exit reasons"). The numbers are
/// those of Linux's KVM_EXIT_* (the first recordings were made on KVM); the software CPU's exits
/// map to the same codes, so an exit means the same in every trace.
/// </summary>
public enum ExitReason : uint
{
    Unknown = 0,
    Io = 2,
    Debug = 4,
    Hlt = 5,
    Mmio = 6,
    Shutdown = 8,
    FailEntry = 9,
    Intr = 10,
    InternalError = 17,
    SystemEvent = 24,
    X86Rdmsr = 29,
    X86Wrmsr = 30,
}

public static class ExitReasons
{
    /// <summary>The code a trace stores for an exit of kind <paramref name="kind"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ExitReason Of(VcpuExitKind kind) => kind switch
    {
        VcpuExitKind.PortIo => ExitReason.Io,
        VcpuExitKind.Mmio => ExitReason.Mmio,
        VcpuExitKind.MsrRead => ExitReason.X86Rdmsr,
        VcpuExitKind.MsrWrite => ExitReason.X86Wrmsr,
        VcpuExitKind.Halt => ExitReason.Hlt,
        VcpuExitKind.Shutdown => ExitReason.Shutdown,
        VcpuExitKind.Debug => ExitReason.Debug,
        VcpuExitKind.HostInterrupt => ExitReason.Intr,
        // KVM reported the instruction its emulator failed on as an internal error; the VMM then executed it.
        VcpuExitKind.EmulatedInstruction or VcpuExitKind.Failed => ExitReason.InternalError,
        VcpuExitKind.SystemEvent => ExitReason.SystemEvent,
        _ => ExitReason.Unknown,
    };
}
