using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;

namespace VmReplay.Engine.Run;

/// <summary>
/// Host events when time is the instruction count (<see cref="InstructionClock"/>): a timer
/// deadline falls due at an exact retired-instruction count, where the vCPU is told to stop; a
/// halt skips to the next deadline at once. The only host asynchrony left is live input, which
/// kicks the vCPU (the stop is then logged by its instruction count). No host thread, no timing.
/// </summary>
public sealed class VirtualTimeEvents : IHostEvents
{
    private readonly InstructionClock _clock;
    private readonly IVcpuBackend _vcpu;
    private readonly Func<bool> _inputMayArrive;
    private readonly object _lock = new();
    private long? _deadline;
    // The deadline last armed, the idle time then and the instruction count it came to.
    private long _armedNanoseconds = long.MinValue, _armedIdle, _armedInstruction;
    private volatile bool _inputArrived;

    /// <param name="clock">The engine clock, bound to <paramref name="vcpu"/>.</param>
    /// <param name="inputMayArrive">False once the input source is exhausted (EOF); a file's bytes are all there at start.</param>
    public VirtualTimeEvents(InstructionClock clock, IVcpuBackend vcpu, Func<bool> inputMayArrive)
    {
        _clock = clock;
        _vcpu = vcpu;
        _inputMayArrive = inputMayArrive;
        clock.Attach(vcpu);
    }

    /// <summary>Live input arrived (on the reader's thread): take it at the next stop.</summary>
    public void NotifyInput()
    {
        lock (_lock)
        {
            _inputArrived = true;
            Monitor.PulseAll(_lock);
        }
        _vcpu.Kick();
    }

    /// <summary>Taken as input is: at the next stop, or at once by a halted vCPU.</summary>
    public void Interrupt() => NotifyInput();

    /// <summary>
    /// Where a recording logs the points at which something was due (<see cref="TakeDue"/>
    /// answered true); null in a plain run. Set before the run starts.
    /// </summary>
    public IServicePointLog? ServiceLog { get; set; }

    /// <summary>
    /// Exact interrupt windows are deterministic on a backend that counts instructions; a
    /// recording asks for none all the same, as on KVM: its replay delivers only at exits and at
    /// the service points it logged.
    /// </summary>
    public bool AllowsInterruptWindow => ServiceLog is null;

    private volatile RunOutcome? _stop;

    /// <summary>
    /// Ends the run at the next stop, which is a service point (logged in a recording, so that
    /// its replay ends at the same point with the same state). Any thread; only the first request counts.
    /// </summary>
    public void RequestStop(RunOutcome outcome)
    {
        if (Interlocked.CompareExchange(ref _stop, outcome, null) is null) Interrupt();
    }

    public RunOutcome? StopRequest => _stop;

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        _deadline = deadlineNanoseconds;
        long? stopAt = null;
        if (deadlineNanoseconds is { } d)
        {
            // The run loop arms at every exit, nearly always for the deadline it armed last (a
            // recording's next snapshot; a timer's next tick): the count is worked out again
            // only when the deadline or the idle time moved. The division was 6% of a recording
            // of 4,000,000 exits.
            if (d != _armedNanoseconds || _clock.IdleNanoseconds != _armedIdle)
            {
                _armedNanoseconds = d;
                _armedIdle = _clock.IdleNanoseconds;
                _armedInstruction = _clock.InstructionAt(d);
            }
            stopAt = Math.Max(_armedInstruction, (_vcpu.InstructionsRetired ?? 0) + 1);
        }
        _vcpu.StopAtInstruction(stopAt);
    }

    public bool TakeDue(in StopPoint stop)
    {
        bool due = _deadline is { } d && _clock.ReadNanoseconds() >= d;
        // Checked without the lock first: this runs at every exit, and input is rare.
        if (_inputArrived) due |= TakeInput();
        if (due && ServiceLog is { } log) log.Serviced(stop);
        return due;
    }

    private bool TakeInput()
    {
        lock (_lock)
        {
            if (!_inputArrived) return false;
            _inputArrived = false;
            _vcpu.DiscardKick();
            return true;
        }
    }

    public bool WaitIdle(long? deadlineNanoseconds)
    {
        if (deadlineNanoseconds is { } d)
        {
            _deadline = d;
            _clock.SkipTo(d);
            return true;
        }
        // Nothing will fall due by itself: only input can wake the guest.
        lock (_lock)
        {
            while (!_inputArrived)
            {
                if (!_inputMayArrive()) return false;
                Monitor.Wait(_lock, 50);
            }
            return true;
        }
    }
}
