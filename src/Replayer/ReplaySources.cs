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
    public ReplaySources(TraceReader trace)
    {
        Events = new EventCursor(trace.Events());
        Clock = new ReplayClock(Events, trace.Header.WallClockBase);
        SerialInput = new ReplaySerialInput(Events);
    }

    public EventCursor Events { get; }

    public IEngineClock Clock { get; }

    public ISerialInput SerialInput { get; }

    public bool NeedsDirtyLog => true;

    public RunOutcome? AbortReason => null;

    public ReplayHostEvents? HostEvents { get; private set; }

    public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu) =>
        HostEvents = new ReplayHostEvents(Events, vcpu, machine.DirtyLog!.CreateTracker());

    public void OnExit(IVcpuBackend vcpu, VcpuExit exit)
    {
        var actual = ExitFingerprint.Capture(vcpu, exit);
        long at = Events.Position;
        var expected = Events.Take<ExitEvent>(actual.Describe());
        if (!expected.Matches(actual)) throw new ReplayDivergenceException(at, expected.Describe(), actual.Describe());
    }

    public void Dispose() { }
}
