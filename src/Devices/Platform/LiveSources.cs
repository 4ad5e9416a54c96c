using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Run;

namespace VmReplay.Devices.Platform;

/// <summary>
/// The host as it is: stdin or a file for COM1, and engine time from the host's monotonic clock
/// (with a timer thread that kicks the vCPU) or from the instruction count (no timing at all).
/// </summary>
public sealed class LiveSources : IMachineSources
{
    private readonly IEngineClock _clock;
    private readonly StreamSerialInput _input;
    private LiveHostEvents? _events;
    private VirtualTimeEvents? _virtualEvents;

    private readonly long _kickAfter;

    /// <param name="serialInputFile">File for COM1 input; null reads the host's stdin.</param>
    /// <param name="kickAfterNanoseconds">How long due timer or input work waits for the guest's next exit before the vCPU is kicked (see <see cref="LiveHostEvents"/>).</param>
    /// <param name="clock">Host time, or the instruction count (<see cref="InstructionClock"/>, software CPU only).</param>
    public LiveSources(string? serialInputFile, long kickAfterNanoseconds = LiveHostEvents.DefaultKickAfterNanoseconds, ClockMode clock = ClockMode.Host)
    {
        _kickAfter = kickAfterNanoseconds;
        // With host time the RTC starts from the one wall-clock reading (a recording stores it);
        // a virtual clock starts from a fixed date, so that two runs are the same run.
        _clock = clock == ClockMode.Virtual ? new InstructionClock(InstructionClock.WallClockEpoch) : new HostMonotonicClock();
        _input = serialInputFile is null
            ? StreamSerialInput.FromLiveStream(Console.OpenStandardInput())
            : StreamSerialInput.FromFile(serialInputFile);
    }

    public IEngineClock Clock => _clock;

    public ISerialInput SerialInput => _input;

    public bool NeedsDirtyLog => false;

    public AbortRequest? Abort => null;

    public IHostEvents CreateHostEvents(IMachineBackend machine, IVcpuBackend vcpu)
    {
        if (_clock is InstructionClock virtualClock)
        {
            _virtualEvents = new VirtualTimeEvents(virtualClock, vcpu, () => _input.MayHaveMore);
            _input.Arrived += _virtualEvents.NotifyInput;
            _input.Start();
            return _virtualEvents;
        }
        _events = new LiveHostEvents((HostMonotonicClock)_clock, vcpu, () => _input.MayHaveMore, _kickAfter);
        _input.Arrived += _events.NotifyInput;
        _input.Start();
        return _events;
    }

    public void OnExit(IVcpuBackend vcpu, VcpuExit exit) { }

    public void Dispose()
    {
        if (_events is not null) _input.Arrived -= _events.NotifyInput;
        if (_virtualEvents is not null) _input.Arrived -= _virtualEvents.NotifyInput;
        _events?.Dispose();
        _input.Dispose();
    }
}
