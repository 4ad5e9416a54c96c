using VmReplay.Engine.Backend;

namespace VmReplay.Recorder.Events;

/// <summary>Takes the fingerprint of the exit a stopped vCPU just made.</summary>
public static class ExitFingerprint
{
    public static ExitEvent Capture(IVcpuBackend vcpu, VcpuExit exit)
    {
        ulong rip = vcpu.ReadRegisters().Rip;
        var reason = ExitReasons.Of(exit.Kind);
        byte write = exit.IsWrite ? ExitEvent.FlagWrite : (byte)0;
        return Fingerprint(exit, rip, reason, write) with { Instructions = vcpu.InstructionsRetired };
    }

    private static ExitEvent Fingerprint(VcpuExit exit, ulong rip, ExitReason reason, byte write)
    {
        return exit.Kind switch
        {
            VcpuExitKind.PortIo => new ExitEvent((uint)reason, rip, exit.Port, (byte)exit.Size, write, (uint)exit.Count, exit.Data.ToArray()),
            VcpuExitKind.Mmio => new ExitEvent((uint)reason, rip, exit.Address, (byte)exit.Size, write, 1, exit.Data.ToArray()),
            VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite => new ExitEvent((uint)reason, rip, exit.MsrIndex, 8, write, 1, BitConverter.GetBytes(exit.MsrData)),
            _ => new ExitEvent((uint)reason, rip, 0, 0, 0, 0, []),
        };
    }
}
