using VmReplay.Engine.Determinism;

namespace VmReplay.Engine.Run;

/// <summary>
/// Host events for a live run: a timer thread that kicks the vCPU when the armed deadline
/// passes, and input notifications that kick it too.
/// </summary>
public sealed class LiveHostEvents : IHostEvents, IDisposable
{
    private readonly HostMonotonicClock _hostTime;
    private readonly VcpuKicker _kicker;
    private readonly Func<bool> _inputMayArrive;
    private readonly object _lock = new();
    private readonly Thread _timer;
    private long _deadline = long.MaxValue;
    private int _due;
    private bool _disposed;

    /// <param name="hostTime">The unrecorded host time the engine clock is derived from in a live run.</param>
    /// <param name="kicker">Kicks the vCPU thread.</param>
    /// <param name="inputMayArrive">False once the input source is exhausted (EOF).</param>
    public LiveHostEvents(HostMonotonicClock hostTime, VcpuKicker kicker, Func<bool> inputMayArrive)
    {
        _hostTime = hostTime;
        _kicker = kicker;
        _inputMayArrive = inputMayArrive;
        _timer = new Thread(TimerLoop) { IsBackground = true, Name = "vmreplay deadline timer" };
        _timer.Start();
    }

    /// <summary>Called by the input reader when bytes arrived.</summary>
    public void NotifyInput()
    {
        lock (_lock)
        {
            _due = 1;
            Monitor.PulseAll(_lock);
        }
        _kicker.Kick();
    }

    /// <summary>How soon to stop the vCPU again to retry a blocked interrupt.</summary>
    private const long BlockedRetryNanoseconds = 200_000;

    public void Arm(long? deadlineNanoseconds, bool interruptBlocked)
    {
        long d = deadlineNanoseconds ?? long.MaxValue;
        if (interruptBlocked) d = Math.Min(d, _hostTime.ReadNanoseconds() + BlockedRetryNanoseconds);
        if (d == Volatile.Read(ref _deadline)) return;
        lock (_lock)
        {
            bool earlier = d < _deadline;
            _deadline = d;
            if (earlier) Monitor.PulseAll(_lock);
        }
    }

    public bool TakeDue(StopPoint stop)
    {
        if (Volatile.Read(ref _due) == 0) return false;
        Interlocked.Exchange(ref _due, 0);
        _kicker.ConsumePending();
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
                    _due = 1;
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
                    _due = 1;
                    Monitor.PulseAll(_lock);
                    _kicker.Kick();
                    continue;
                }
                if (_deadline == long.MaxValue) Monitor.Wait(_lock);
                else
                {
                    long ms = (_deadline - now) / 1_000_000;
                    if (ms > 0) Monitor.Wait(_lock, (int)Math.Min(ms, int.MaxValue));
                    else Monitor.Wait(_lock, TimeSpan.FromTicks(Math.Max(1, (_deadline - now) / 100)));
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
