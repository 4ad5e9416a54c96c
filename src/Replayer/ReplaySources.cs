using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>A trace as the machine's only source of time, input and asynchrony; every exit is checked against its fingerprint.</summary>
public sealed class ReplaySources : IMachineSources
{
    private readonly string _recordedOn;
    private bool _crossBackend;

    public ReplaySources(TraceReader trace)
    {
        _recordedOn = trace.Header.Backend;
        Events = new EventCursor(trace.Batches(0));
        var h = trace.Header;
        // A virtual clock is computed again from the instruction count; host time comes from the trace.
        Clock = h.Clock == ClockMode.Virtual.ToString().ToLowerInvariant()
            ? new InstructionClock(h.WallClockBase, h.NanosecondsPerInstruction ?? InstructionClock.DefaultNanosecondsPerInstruction)
            : new ReplayClock(Events, h.WallClockBase);
        SerialInput = new ReplaySerialInput(Events);
    }

    public EventCursor Events { get; }

    public IEngineClock Clock { get; }

    public ISerialInput SerialInput { get; }

    public bool NeedsDirtyLog => true;

    public AbortRequest? Abort => null;

    public ReplayHostEvents? HostEvents { get; private set; }

    public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu)
    {
        _crossBackend = _recordedOn != CpuBackendNames.Name(machine.Kind);
        var virtualClock = Clock as InstructionClock;
        virtualClock?.Attach(vcpu);
        return HostEvents = new ReplayHostEvents(Events, vcpu, machine.DirtyLog!.CreateTracker()) { VirtualClock = virtualClock, CrossBackend = _crossBackend };
    }

    public PredictedPortExits? PredictedExits => Events.Predicted;

    public void OnExit(IVcpuBackend vcpu, VcpuExit exit)
    {
        // Nearly every exit is the recorded one byte for byte; any other is looked at closely.
        if (!Events.TakeIfRecorded(vcpu, exit)) OnOtherExit(vcpu, exit);
    }

    // Kept out of OnExit, which runs at every exit: its locals made each call set up and zero a
    // 152-byte frame.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void OnOtherExit(IVcpuBackend vcpu, VcpuExit exit)
    {
        if (Events.PeekExit(out var recorded) && ExitFingerprint.Matches(recorded, vcpu, exit))
        {
            Events.Advance();
            return;
        }
        long at = Events.Position;
        var expected = Events.Take<ExitEvent, (IVcpuBackend, VcpuExit)>((vcpu, exit), static m => ExitFingerprint.Capture(m.Item1, m.Item2).Describe());
        if (ExitFingerprint.Matches(expected, vcpu, exit)) return;
        var actual = ExitFingerprint.Capture(vcpu, exit);
        if (!expected.Matches(actual) && !(_crossBackend && SameInstruction(expected, actual)))
            throw new ReplayDivergenceException(at, expected.Describe(), actual.Describe());
    }

    // Where RIP stands at an exit is the backend's (and the host's) choice: KVM's instruction
    // emulator reports the next instruction, the software CPU and KVM's fast path the exiting
    // one. Replaying another backend's recording, the same access from an instruction that
    // starts at RIP or up to 15 bytes (one instruction) before it is the same exit.
    private static bool SameInstruction(ExitEvent expected, ExitEvent actual) =>
        (expected with { Rip = actual.Rip }).Matches(actual) && expected.Rip >= actual.Rip && expected.Rip - actual.Rip <= 15;

    public void Dispose() { }
}
