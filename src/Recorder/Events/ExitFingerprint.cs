using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Recorder.Events;

/// <summary>Takes the fingerprint of the exit a stopped vCPU just made.</summary>
public static class ExitFingerprint
{
    public static ExitEvent Capture(Vcpu vcpu, KvmRun run)
    {
        ulong rip = vcpu.Kvm.GetRegs().Rip;
        uint reason = (uint)run.ExitReason;
        return run.ExitReason switch
        {
            KvmExitReason.Io => new ExitEvent(reason, rip, run.IoPort, (byte)run.IoSize, run.IoIsOut ? ExitEvent.FlagWrite : (byte)0,
                (uint)run.IoCount, run.IoData.ToArray()),
            KvmExitReason.Mmio => new ExitEvent(reason, rip, run.MmioAddress, (byte)run.MmioLength, run.MmioIsWrite ? ExitEvent.FlagWrite : (byte)0,
                1, run.MmioData.ToArray()),
            KvmExitReason.X86Rdmsr or KvmExitReason.X86Wrmsr => new ExitEvent(reason, rip, run.MsrIndex, 8,
                run.ExitReason == KvmExitReason.X86Wrmsr ? ExitEvent.FlagWrite : (byte)0, 1, BitConverter.GetBytes(run.MsrData)),
            _ => new ExitEvent(reason, rip, 0, 0, 0, 0, []),
        };
    }
}
