using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;

namespace VmReplay.Devices.Platform;

/// <summary>The host as it is: monotonic clock, stdin or a file for COM1, a timer thread that kicks the vCPU.</summary>
public sealed class LiveSources : IMachineSources
{
    private readonly HostMonotonicClock _clock = new();
    private readonly StreamSerialInput _input;
    private LiveHostEvents? _events;

    private readonly long _kickAfter;

    /// <param name="serialInputFile">File for COM1 input; null reads the host's stdin.</param>
    /// <param name="kickAfterNanoseconds">How long due timer or input work waits for the guest's next exit before the vCPU is kicked (see <see cref="LiveHostEvents"/>).</param>
    public LiveSources(string? serialInputFile, long kickAfterNanoseconds = LiveHostEvents.DefaultKickAfterNanoseconds)
    {
        _kickAfter = kickAfterNanoseconds;
        _input = serialInputFile is null
            ? StreamSerialInput.FromLiveStream(Console.OpenStandardInput())
            : StreamSerialInput.FromFile(serialInputFile);
    }

    public IEngineClock Clock => _clock;

    public ISerialInput SerialInput => _input;

    public bool NeedsDirtyLog => false;

    public RunOutcome? AbortReason => null;

    public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu)
    {
        _events = new LiveHostEvents(_clock, vcpu, () => _input.MayHaveMore, _kickAfter);
        _input.Arrived += _events.NotifyInput;
        _input.Start();
        return _events;
    }

    public void OnExit(IVcpuBackend vcpu, VcpuExit exit) { }

    public void Dispose()
    {
        if (_events is not null) _input.Arrived -= _events.NotifyInput;
        _events?.Dispose();
        _input.Dispose();
    }
}
