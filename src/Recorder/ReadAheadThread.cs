namespace VmReplay.Recorder;

/// <summary>
/// A thread of a trace reader's own that reads ahead of a replay: the work queued on it, from any
/// thread, runs there in order, each result a task to wait for. The thread pool did this before,
/// and a replay used the pool for nothing else: starting it cost the main thread 3 to 4 ms
/// before the guest's first instruction (its first Task.Run), against about 1 ms to start a thread.
/// </summary>
internal sealed class ReadAheadThread(string name) : IDisposable
{
    private readonly Queue<Action> _work = new();
    private readonly object _lock = new();
    private Thread? _thread;
    private bool _disposed;

    /// <summary>Runs <paramref name="read"/> on this thread after the work queued before it; its result or exception comes in the task.</summary>
    public Task<T> Run<T>(Func<T> read)
    {
        var done = new TaskCompletionSource<T>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _work.Enqueue(() =>
            {
                try { done.SetResult(read()); }
                catch (Exception e) { done.SetException(e); }
            });
            if (_thread is null)
            {
                _thread = new Thread(Serve) { IsBackground = true, Name = name };
                _thread.Start();
            }
            else Monitor.Pulse(_lock);
        }
        return done.Task;
    }

    private void Serve()
    {
        while (true)
        {
            Action next;
            lock (_lock)
            {
                while (_work.Count == 0 && !_disposed) Monitor.Wait(_lock);
                if (_work.Count == 0) return;
                next = _work.Dequeue();
            }
            next();
        }
    }

    /// <summary>Ends the thread once the work queued so far has run; no more may be queued.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Monitor.Pulse(_lock);
        }
    }
}
