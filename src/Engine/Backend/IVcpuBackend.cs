using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Backend;

/// <summary>
/// One virtual CPU of a backend. The run loop (<see cref="Run.VcpuRunner"/>) drives it: it
/// enters the guest with <see cref="Run"/> and handles the exit it returns; between runs the
/// vCPU is stopped and its state may be read and changed.
/// </summary>
public interface IVcpuBackend
{
    int Id { get; }

    /// <summary>Binds the calling thread, which will call <see cref="Run"/>, for kicks; call <see cref="DetachThread"/> on it before it ends.</summary>
    void AttachThread();

    void DetachThread();

    /// <summary>Runs the guest until the next exit; the returned object is reused by the next call.</summary>
    VcpuExit Run();

    /// <summary>
    /// Completes an instruction the last exit left unfinished (an I/O read reaches its register)
    /// without running further, so that a state can be saved or an interrupt delivered at a clean
    /// instruction boundary.
    /// </summary>
    void CompletePendingInstruction();

    /// <summary>RFLAGS.IF at the last exit (cheap; may be stale after the VMM changed the state).</summary>
    bool InterruptFlag { get; }

    /// <summary>Whether the VMM wants an exit as soon as the guest can take an interrupt.</summary>
    bool RequestInterruptWindow { get; set; }

    /// <summary>
    /// Delivers an external interrupt now if the guest can take one (IF set, no interrupt shadow,
    /// no event in flight): <paramref name="acknowledge"/> is called only then, for the vector.
    /// </summary>
    DeliveryResult TryDeliverInterrupt(Func<byte> acknowledge);

    /// <summary>Makes a running <see cref="Run"/> return soon with <see cref="VcpuExitKind.Interrupted"/> (or the next one at once). Any thread.</summary>
    void Kick();

    /// <summary>Drops a kick that has not taken effect yet. On the vCPU's thread.</summary>
    void DiscardKick();

    /// <summary>A copy of the complete state (for a snapshot).</summary>
    VcpuState CaptureState();

    /// <summary>Makes the state <paramref name="state"/> (restoring a snapshot, loading a guest).</summary>
    void RestoreState(VcpuState state);

    /// <summary>Gives <paramref name="action"/> the full state and takes back what it changed.</summary>
    T WithState<T>(Func<VcpuState, T> action);

    /// <summary>General registers, RIP and RFLAGS (cheaper than a whole state).</summary>
    GeneralRegisters ReadRegisters();

    /// <summary>RIP alone: what an exit's fingerprint needs at every exit, where a backend can give it without assembling the other registers.</summary>
    ulong ReadInstructionPointer() => ReadRegisters().Rip;

    /// <summary>Segment, descriptor-table and control registers (cheaper than a whole state).</summary>
    SystemRegisters ReadSystemRegisters();

    /// <summary>Retired instructions, where the backend counts them exactly; null where it cannot.</summary>
    long? InstructionsRetired { get; }

    /// <summary>Sets the retired-instruction count (a restored snapshot's); ignored where the backend does not count.</summary>
    void RestoreInstructionCount(long count);

    /// <summary>
    /// Ends a run with <see cref="VcpuExitKind.Scheduled"/> when the retired-instruction count
    /// reaches <paramref name="count"/> (null: no such stop). Only where the backend counts
    /// instructions (<see cref="InstructionsRetired"/> not null); elsewhere it is never reached.
    /// </summary>
    void StopAtInstruction(long? count);

    /// <summary>
    /// Replaying a KVM recording on a backend whose CPU executes everything itself: while on,
    /// the instructions KVM's emulator fails on where the VMM emulates them (IRET, INT3,
    /// CMPXCHG8B/16B) end the run with <see cref="VcpuExitKind.EmulatedInstruction"/> as they
    /// retire, as that recording's VMM logged them. Nothing on KVM itself.
    /// </summary>
    void ReportEmulatedInstructions(bool on) { }

    /// <summary>Execution breakpoints a debug setup may hold at once, or null for any number.</summary>
    int? BreakpointLimit { get; }

    /// <summary>
    /// Whether <see cref="SetDebug"/> honours <see cref="DebugSetup.Watches"/>: every access to a
    /// watched range ends the run after its instruction, exactly (a backend that sees every
    /// memory access). Elsewhere a setup with watches is refused.
    /// </summary>
    bool DataWatchpoints { get; }

    /// <summary>Arms single-stepping, execution breakpoints (linear addresses) and data watchpoints; an empty setup disarms.</summary>
    void SetDebug(DebugSetup setup);

    /// <summary>Which linear pages the guest reads, writes and executes from, where the backend sees every access (the software CPU); null elsewhere.</summary>
    IPageLog? PageLog => null;

    /// <summary>What the last <see cref="VcpuExitKind.Debug"/> exit was.</summary>
    DebugExitCause LastDebugStop { get; }
}

/// <summary>
/// The outcome of <see cref="IVcpuBackend.TryDeliverInterrupt"/>; <paramref name="Watch"/> is a
/// data watchpoint the delivery itself accessed (the frame it pushed), where the backend has them.
/// </summary>
public readonly record struct DeliveryResult(bool Delivered, string? Failure, DataWatchpointHit? Watch = null)
{
    public static readonly DeliveryResult NotNow = new(false, null);
    public static readonly DeliveryResult Done = new(true, null);
    public static DeliveryResult Failed(string why) => new(false, why);
}

/// <summary>
/// Debug exits to ask for: after every instruction (<paramref name="SingleStep"/>), before
/// executing an instruction at any of <paramref name="Breakpoints"/>, and after an instruction
/// that accessed one of <paramref name="Watches"/> (where the backend has
/// <see cref="IVcpuBackend.DataWatchpoints"/>). A breakpoint fires again when the vCPU is entered
/// at its address (as debug registers do); step over it to go on.
/// </summary>
public sealed record DebugSetup(bool SingleStep, IReadOnlyList<ulong?> Breakpoints, IReadOnlyList<DataWatchpoint>? Watches = null)
{
    public static readonly DebugSetup None = new(false, []);

    /// <summary>
    /// The address of a point recorded on KVM that is being looked for, or null. KVM's emulator
    /// can stop a guest at a REP string instruction whose count has just run out, before its
    /// RIP moves on; the software CPU, which otherwise moves on with the last iteration, stays at
    /// a REP instruction at this address once when its count runs out, so that the point exists
    /// in the replay too (the next execution, with a count of 0, only moves RIP on).
    /// </summary>
    public ulong? ExhaustedRepeatStaysAt { get; init; }

    /// <summary>The data watchpoints (none when not given).</summary>
    public IReadOnlyList<DataWatchpoint> WatchList => Watches ?? [];

    public bool IsEmpty => !SingleStep && Breakpoints.Count == 0 && WatchList.Count == 0;
}

/// <summary>
/// Why a debug exit happened: a single step completed, and/or the breakpoints (by index in the
/// setup; bit 63 stands for every index from 63 on) that fired before their instruction, or the
/// data watchpoint an instruction that just retired accessed (<paramref name="Watch"/>).
/// </summary>
public readonly record struct DebugExitCause(bool Step, ulong Breakpoints, DataWatchpointHit? Watch = null)
{
    public bool Hit(int index) => (Breakpoints & (1UL << Math.Min(index, 63))) != 0;

    /// <summary>Whether any breakpoint from index <paramref name="first"/> on fired.</summary>
    public bool HitFrom(int first) => (Breakpoints >> Math.Min(first, 63)) != 0;
}
