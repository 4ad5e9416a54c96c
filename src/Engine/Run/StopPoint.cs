namespace VmReplay.Engine.Run;

/// <summary>Why the vCPU is stopped in userspace.</summary>
public enum StopKind
{
    /// <summary>A VM exit the guest caused (or the start of the run): a point a replay reaches by itself.</summary>
    Exit,
    /// <summary>KVM_RUN was interrupted by a kick: an arbitrary point in the guest's execution.</summary>
    Interrupted,
    /// <summary>A debug exit the host-events source asked for (a replay looking for a recorded point).</summary>
    Debug,
    /// <summary>
    /// KVM opened the interrupt window the VMM asked for. Where exactly KVM stops for it is not
    /// repeatable on every host, so this is not treated as a point a replay reaches by itself.
    /// </summary>
    Window,
    /// <summary>
    /// The vCPU stopped at the retired-instruction count the host-events source asked for
    /// (<see cref="Backend.IVcpuBackend.StopAtInstruction"/>): a point every replay reaches by itself.
    /// </summary>
    Scheduled,
    /// <summary>
    /// The VMM just delivered an interrupt at this stop: the vCPU is at the handler's first
    /// instruction, nothing of it executed. Asked only when <see cref="VcpuRunner.PauseAfterDelivery"/> is set.
    /// </summary>
    Delivered,
}

/// <summary>
/// Where the run loop is when it asks whether asynchronous work is due: after
/// <paramref name="ExitCount"/> exits, and after <paramref name="Instructions"/> retired
/// instructions where the backend counts them. At a <see cref="StopKind.Delivered"/> stop,
/// <paramref name="DeliveryWatch"/> is the data watchpoint the delivery accessed, if any.
/// </summary>
public readonly record struct StopPoint(long ExitCount, StopKind Kind, long? Instructions = null, Backend.DataWatchpointHit? DeliveryWatch = null);
