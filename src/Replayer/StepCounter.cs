using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;

namespace VmReplay.Replayer;

/// <summary>
/// Tells which run-loop stops of single-stepping end an instruction boundary, and counts them.
/// </summary>
/// <remarks>
/// An instruction that exits to the VMM (I/O, MMIO, MSR, HLT) is counted at its exit, since this
/// host's KVM drops the step trap of an instruction it completes after the exit; where a host does
/// deliver that trap it arrives at the address the exit left, with nothing executed, and is not
/// counted again. An instruction the VMM emulates is counted at its exit. An interrupt delivery is
/// a boundary of its own: the handler's entry, nothing run yet.
/// </remarks>
internal sealed class StepCounter(PcMachine machine, ReplayHostEvents host)
{
    private long _emulatedSeen;
    private ulong? _trapAfterExitAt;

    /// <summary>Boundaries crossed since <see cref="Begin"/>.</summary>
    public long Crossed { get; private set; }

    /// <summary>Single-stepping starts here: nothing crossed yet, no exit whose trap may follow.</summary>
    public void Begin()
    {
        Crossed = 0;
        _emulatedSeen = machine.Counters.EmulatedInstructions;
        _trapAfterExitAt = null;
    }

    /// <summary>Whether <paramref name="stop"/>, met while single-stepping, ends a boundary (then counted).</summary>
    public bool Cross(StopPoint stop)
    {
        if (!EndsBoundary(stop)) return false;
        Crossed++;
        return true;
    }

    private bool EndsBoundary(StopPoint stop)
    {
        long emulated = machine.Counters.EmulatedInstructions;
        bool emulatedNow = emulated != _emulatedSeen;
        _emulatedSeen = emulated;
        switch (stop.Kind)
        {
            case StopKind.Debug:
                bool ownTrap = _trapAfterExitAt == machine.Vcpu.ReadRegisters().Rip;
                _trapAfterExitAt = null;
                return host.LastDebugStopWasStep && !ownTrap;
            case StopKind.Exit when emulatedNow:
                return true;
            case StopKind.Exit when machine.LastExit is VcpuExitKind.PortIo or VcpuExitKind.Mmio
                     or VcpuExitKind.Halt or VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite:
                _trapAfterExitAt = machine.Vcpu.ReadRegisters().Rip;
                return true;
            case StopKind.Delivered:
                return true;
            default:
                return false;
        }
    }
}
