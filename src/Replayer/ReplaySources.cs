using VmReplay.Devices.Platform;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
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

    public IHostEvents CreateHostEvents(VirtualMachine vm, Vcpu vcpu, Engine.Run.VcpuKicker kicker) =>
        HostEvents = new ReplayHostEvents(Events, vcpu, vm.DirtyLog!.CreateTracker());

    public void OnExit(Vcpu vcpu, KvmRun run)
    {
        var actual = ExitFingerprint.Capture(vcpu, run);
        long at = Events.Position;
        var expected = Events.Take<ExitEvent>(actual.Describe());
        if (!expected.Matches(actual)) throw new ReplayDivergenceException(at, expected.Describe(), actual.Describe());
    }

    public void Dispose() { }
}
