using VmReplay.Engine.Backend;
using VmReplay.Recorder;

namespace VmReplay.Replayer;

/// <summary>Which CPU backend replays a trace.</summary>
public static class ReplayBackend
{
    /// <summary>
    /// The backend for replaying a trace recorded as <paramref name="header"/> says, given the
    /// user's <c>--cpu</c>. A recording on the software CPU replays on it (its exits, RDTSC among
    /// them, and CPU model are the software CPU's); a KVM recording replays on KVM where it is
    /// usable, even a paravirtual one that auto passes over when recording, else on the software CPU.
    /// </summary>
    public static CpuBackendChoice Choose(TraceHeader header, CpuBackendChoice asked)
    {
        bool recordedSoft = header.Backend == CpuBackendKind.Soft.Name();
        return (recordedSoft, asked) switch
        {
            (true, CpuBackendChoice.Kvm) => throw new BackendUnavailableException(
                $"--cpu kvm: this trace was recorded on the software CPU, whose exits and CPU model KVM cannot reproduce; replay it with --cpu soft (or auto)"),
            (true, _) => CpuBackendChoice.Soft,
            (false, CpuBackendChoice.Auto) => CpuBackendChoice.AnyKvm,
            _ => asked,
        };
    }
}
