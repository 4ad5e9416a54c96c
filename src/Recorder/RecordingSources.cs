using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>The live host's sources with everything they give the machine logged to a trace.</summary>
public sealed class RecordingSources : IMachineSources
{
    private readonly LiveSources _live;
    private readonly TraceWriter _writer;

    public RecordingSources(LiveSources live, TraceWriter writer)
    {
        _live = live;
        _writer = writer;
        RecordingClock = new RecordingClock(live.Clock, writer);
        // A virtual clock is not recorded: a replay computes the same readings from the instruction count.
        Clock = live.Clock is InstructionClock ? live.Clock : RecordingClock;
        SerialInput = new RecordingSerialInput(live.SerialInput, writer);
        // Watched before it is read: a failure on the writer's thread in between is not missed.
        writer.Failed += StopRecording;
        if (writer.Failure is { } failure) StopRecording(failure);
    }

    private void StopRecording(string failure) => Abort!.Set(RunOutcome.Error($"recording stopped: {failure}"));

    public IEngineClock Clock { get; }

    public RecordingClock RecordingClock { get; }

    /// <summary>The pages written since the last service point (covered by the next forced point's hash); null until the run starts.</summary>
    public DirtyPageTracker? ServiceTracker { get; private set; }

    public ISerialInput SerialInput { get; }

    public bool NeedsDirtyLog => true;

    public AbortRequest? Abort { get; } = new();

    public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu)
    {
        ServiceTracker = machine.DirtyLog!.CreateTracker();
        var log = new ServicePointLog(_writer, vcpu, ServiceTracker);
        IHostEvents events;
        Action<RunOutcome> requestStop;
        var live = _live.CreateHostEvents(machine, vcpu);
        if (live is VirtualTimeEvents virtualTime)
        {
            virtualTime.ServiceLog = log;
            (events, requestStop) = (virtualTime, virtualTime.RequestStop);
        }
        else
        {
            var recording = new RecordingHostEvents(live, log);
            (events, requestStop) = (recording, recording.RequestStop);
        }
        lock (_stopLock)
        {
            _requestStop = requestStop;
            if (_stop is { } stop) requestStop(stop);
        }
        return events;
    }

    private readonly Lock _stopLock = new();
    private Action<RunOutcome>? _requestStop;
    private RunOutcome? _stop;

    /// <summary>
    /// Ends the recording at its next stop with <paramref name="outcome"/>, the stop logged as a
    /// service point so that a replay ends there too; before the run starts, at its first stop.
    /// Any thread (a signal handler); only the first request counts.
    /// </summary>
    public void RequestStop(RunOutcome outcome)
    {
        lock (_stopLock)
        {
            _stop ??= outcome;
            _requestStop?.Invoke(_stop);
        }
    }

    public void OnExit(IVcpuBackend vcpu, VcpuExit exit) => ExitFingerprint.AppendTo(_writer, vcpu, exit);

    public PredictedPortExits? PredictedExits => _writer.Predicted;

    public void Dispose() => _live.Dispose();
}
