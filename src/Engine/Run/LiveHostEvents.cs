using VmReplay.Engine.Backend;
using VmReplay.Engine.Determinism;

namespace VmReplay.Engine.Run;

/// <summary>
/// Host events for a live run: a timer thread that marks work due when the armed deadline
/// passes, and input notifications that do the same. Due work is taken at the guest's next exit;
/// only when none comes within <see cref="KickAfterNanoseconds"/> is the vCPU kicked out of the
/// guest. A recording logs a service at an exit by its position alone, but one at a kick by the
/// guest's registers and written memory, which a replay must find again by breakpoints; a guest
/// that exits often (a kernel printing on a serial port) so gets nearly all its interrupts at
/// exits, and a replay depends far less on state the VMM cannot reproduce (TSC reads).
/// </summary>
public sealed class LiveHostEvents : IHostEvents, IDisposable
{
    private readonly HostMonotonicClock _hostTime;
    private readonly IVcpuBackend _vcpu;
    private readonly Func<bool> _inputMayArrive;
    private readonly object _lock = new();
    private readonly Thread _timer;
    private long _deadline = long.MaxValue;
    private long _kickAt = long.MaxValue;
    private int _due;
    private bool _disposed;

    /// <param name="hostTime">The unrecorded host time the engine clock is derived from in a live run.</param>
    /// <param name="vcpu">The vCPU to kick.</param>
    /// <param name="inputMayArrive">False once the input source is exhausted (EOF).</param>
    /// <param name="kickAfterNanoseconds">How long due work waits for an exit before a kick (host time).</param>
    public LiveHostEvents(HostMonotonicClock hostTime, IVcpuBackend vcpu, Func<bool> inputMayArrive, long kickAfterNanoseconds = DefaultKickAfterNanoseconds)
    {
        KickAfterNanoseconds = kickAfterNanoseconds;
        _hostTime = hostTime;
        _vcpu = vcpu;
        _inputMayArrive = inputMayArrive;
        _timer = new Thread(TimerLoop) { IsBackground = true, Name = "vmreplay deadline timer" };
        _timer.Start();
    }

    /// <summary>Called by the input reader when bytes arrived.</summary>
    public void NotifyInput()
    {
        lock (_lock)
        {
            MarkDue(_hostTime.ReadNanoseconds());
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Taken as input is, without waiting for an exit first: the vCPU is kicked at once.</summary>
    public void Interrupt()
    {
        NotifyInput();
        _vcpu.Kick();
    }

    /// <summary>
    /// The default wait for an exit before a kick: a tenth of a 100 Hz timer tick, longer than a
    /// kernel's gaps between serial-port accesses while it prints, short enough that a guest
    /// spinning on memory for an interrupt hardly notices.
    /// </summary>
    public const long DefaultKickAfterNanoseconds = 1_000_000;

    /// <summary>How long due work waits for the guest's next exit before the vCPU is kicked.</summary>
    public long KickAfterNanoseconds { get; }

    // Under _lock.
    private void MarkDue(long now)
    {
        if (_due == 0) _kickAt = now + KickAfterNanoseconds;
        _due = 1;
    }

    /// <summary>How soon to stop the vCPU again to retry a blocked interrupt.</summary>
    private const long BlockedRetryNanoseconds = 200_000;

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        long d = deadlineNanoseconds ?? long.MaxValue;
        if (interruptBlocked) d = Math.Min(d, _hostTime.ReadNanoseconds() + BlockedRetryNanoseconds);
        // Work the run loop left due (a kick where the guest could not take it) needs a new kick.
        bool dueLeft = Volatile.Read(ref _due) != 0 && Volatile.Read(ref _kickAt) == long.MaxValue;
        if (d == Volatile.Read(ref _deadline) && !dueLeft) return;
        lock (_lock)
        {
            bool earlier = d < _deadline;
            _deadline = d;
            if (_due != 0 && _kickAt == long.MaxValue)
            {
                _kickAt = _hostTime.ReadNanoseconds() + BlockedRetryNanoseconds;
                earlier = true;
            }
            if (earlier) Monitor.PulseAll(_lock);
        }
    }

    public bool TakeDue(in StopPoint stop)
    {
        if (Volatile.Read(ref _due) == 0) return false;
        lock (_lock)
        {
            _due = 0;
            _kickAt = long.MaxValue;
        }
        // A kick the timer sent just before this exit took the work would stop the guest again
        // at once, for nothing; discard it.
        _vcpu.DiscardKick();
        return true;
    }

    public bool WaitIdle(long? deadlineNanoseconds)
    {
        lock (_lock)
        {
            _deadline = deadlineNanoseconds ?? long.MaxValue;
            while (_due == 0)
            {
                if (_deadline == long.MaxValue && !_inputMayArrive()) return false;
                long wait = _deadline == long.MaxValue ? 50 : Math.Max(0, (_deadline - _hostTime.ReadNanoseconds()) / 1_000_000);
                if (_deadline != long.MaxValue && _hostTime.ReadNanoseconds() >= _deadline)
                {
                    MarkDue(_hostTime.ReadNanoseconds());
                    break;
                }
                Monitor.Wait(_lock, (int)Math.Min(wait + 1, 50));
            }
            return true;
        }
    }

    private void TimerLoop()
    {
        lock (_lock)
        {
            while (!_disposed)
            {
                long now = _hostTime.ReadNanoseconds();
                if (_deadline != long.MaxValue && now >= _deadline)
                {
                    _deadline = long.MaxValue;
                    MarkDue(now);
                    // Wakes a halted vCPU thread (WaitIdle) at once: a halt is an exit already.
                    Monitor.PulseAll(_lock);
                    continue;
                }
                if (_due != 0 && now >= _kickAt)
                {
                    _kickAt = long.MaxValue;
                    _vcpu.Kick();
                    continue;
                }
                long next = Math.Min(_deadline, _due != 0 ? _kickAt : long.MaxValue);
                if (next == long.MaxValue) Monitor.Wait(_lock);
                else
                {
                    long ms = (next - now) / 1_000_000;
                    if (ms > 0) Monitor.Wait(_lock, (int)Math.Min(ms, int.MaxValue));
                    else Monitor.Wait(_lock, TimeSpan.FromTicks(Math.Max(1, (next - now) / 100)));
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Monitor.PulseAll(_lock);
        }
        _timer.Join();
    }
}
