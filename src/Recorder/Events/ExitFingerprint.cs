using VmReplay.Engine.Backend;

namespace VmReplay.Recorder.Events;

/// <summary>Takes the fingerprint of the exit a stopped vCPU just made.</summary>
public static class ExitFingerprint
{
    public static ExitEvent Capture(IVcpuBackend vcpu, VcpuExit exit)
    {
        ulong rip = vcpu.ReadInstructionPointer();
        var reason = (uint)ExitReasons.Of(exit.Kind);
        byte write = exit.IsWrite ? ExitEvent.FlagWrite : (byte)0;
        long? retired = vcpu.InstructionsRetired;
        return exit.Kind switch
        {
            VcpuExitKind.PortIo => new ExitEvent(reason, rip, exit.Port, (byte)exit.Size, write, (uint)exit.Count, exit.Data.ToArray()) { Instructions = retired },
            VcpuExitKind.Mmio => new ExitEvent(reason, rip, exit.Address, (byte)exit.Size, write, 1, exit.Data.ToArray()) { Instructions = retired },
            VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite => new ExitEvent(reason, rip, exit.MsrIndex, 8, write, 1, BitConverter.GetBytes(exit.MsrData)) { Instructions = retired },
            _ => new ExitEvent(reason, rip, 0, 0, 0, 0, []) { Instructions = retired },
        };
    }

    /// <summary>
    /// Whether the exit a stopped vCPU just made is <paramref name="expected"/>, as
    /// <see cref="ExitEvent.Matches"/> would say of its <see cref="Capture"/>, without building
    /// one: a replay checks every exit, and almost all of them match.
    /// </summary>
    public static bool Matches(ExitEvent expected, IVcpuBackend vcpu, VcpuExit exit)
    {
        if (expected.Reason != (uint)ExitReasons.Of(exit.Kind) || expected.Rip != vcpu.ReadInstructionPointer()) return false;
        byte flags = exit.Kind is VcpuExitKind.PortIo or VcpuExitKind.Mmio or VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite && exit.IsWrite ? ExitEvent.FlagWrite : (byte)0;
        if (expected.Flags != flags) return false;
        if (expected.Instructions is { } n && vcpu.InstructionsRetired is { } retired && n != retired) return false;
        switch (exit.Kind)
        {
            case VcpuExitKind.PortIo:
                return expected.Address == exit.Port && expected.Size == (byte)exit.Size && expected.Count == (uint)exit.Count && exit.Data.SequenceEqual(expected.Data);
            case VcpuExitKind.Mmio:
                return expected.Address == exit.Address && expected.Size == (byte)exit.Size && expected.Count == 1 && exit.Data.SequenceEqual(expected.Data);
            case VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite:
                return expected.Address == exit.MsrIndex && expected.Size == 8 && expected.Count == 1
                    && expected.Data.Length == 8 && BitConverter.ToUInt64(expected.Data) == exit.MsrData;
            default:
                return expected.Address == 0 && expected.Size == 0 && expected.Count == 0 && expected.Data.Length == 0;
        }
    }
}
