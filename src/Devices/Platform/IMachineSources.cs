using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;

namespace VmReplay.Devices.Platform;

/// <summary>
/// Everything non-deterministic a machine sees, in one place: the engine clock, serial input and
/// the host events that decide where asynchronous work happens. A live run takes them from the
/// host, a recording logs them on the way, a replay feeds them back from a trace.
/// </summary>
public interface IMachineSources : IDisposable
{
    IEngineClock Clock { get; }

    ISerialInput SerialInput { get; }

    /// <summary>Whether the VM must log dirty pages (to recognise recorded points by state).</summary>
    bool NeedsDirtyLog { get; }

    /// <summary>Builds the host-events source for <paramref name="vcpu"/> once the machine exists.</summary>
    IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu);

    /// <summary>
    /// After every exit, with the vCPU stopped; except the repetitions of a port exit that
    /// <see cref="PredictedExits"/> lets the run loop take.
    /// </summary>
    void OnExit(IVcpuBackend vcpu, VcpuExit exit);

    /// <summary>
    /// Repetitions of a port exit the sources predicted, which the run loop takes for them
    /// without calling <see cref="OnExit"/>; null if they predict none.
    /// </summary>
    PredictedPortExits? PredictedExits => null;

    /// <summary>Where the sources themselves give a reason to stop (a trace that cannot be written); null if they never do.</summary>
    AbortRequest? Abort { get; }
}
