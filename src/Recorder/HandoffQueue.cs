using System.Collections.Concurrent;

namespace VmReplay.Recorder;

/// <summary>
/// Hands items from one producer thread to one consumer thread. Adding takes no lock while at
/// most <c>capacity</c> items wait (the vCPU thread adds; a lock it had to share with a consumer
/// running at a lower priority made it wait for that thread's turn on a core); only a producer
/// that gets that far ahead waits for the consumer to take one. A consumer with nothing to take
/// sleeps until the producer wakes it directly: a channel's reader woke through a thread-pool
/// item, and the pool thread then spun for work on the core the writer needed (in a profile of
/// a 4,000,000-exit recording, two pool threads took 150 ms of CPU doing nothing).
/// </summary>
internal sealed class HandoffQueue<T>(int capacity) : IDisposable
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly SemaphoreSlim _space = new(0);
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);
    // Items added and not yet taken; each add that takes it past the capacity waits for one
    // release, and each take from above the capacity gives one.
    private int _waiting;
    // 1 while the consumer is about to sleep or sleeps; the producer then wakes it.
    private int _consumerSleeps;
    private volatile bool _completed;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _completed;

    /// <summary>Adds <paramref name="item"/>, waiting while more than the capacity wait. Producer thread only.</summary>
    public void Add(T item)
    {
        if (_completed) throw new InvalidOperationException("the queue is complete");
        _items.Enqueue(item);
        WakeConsumer();
        if (Interlocked.Increment(ref _waiting) > capacity) _space.Wait();
    }

    /// <summary>No more items: <see cref="Consume"/> ends once it has taken those added. Producer thread only.</summary>
    public void Complete()
    {
        _completed = true;
        WakeConsumer();
    }

    // The producer publishes, then reads the flag; the consumer sets the flag, then looks again
    // (both with a full fence between): either the consumer sees the item or the producer sees
    // it sleeping.
    private void WakeConsumer()
    {
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _consumerSleeps) != 0) _wake.Set();
    }

    /// <summary>The items in the order added, waiting for each; ends after <see cref="Complete"/>. Consumer thread only.</summary>
    public IEnumerable<T> Consume()
    {
        while (true)
        {
            while (_items.TryDequeue(out var item))
            {
                if (Interlocked.Decrement(ref _waiting) >= capacity) _space.Release();
                yield return item;
            }
            // Complete comes after the last add, so once it is seen an empty queue stays empty.
            if (_completed && _items.IsEmpty) yield break;
            _wake.Reset();
            Volatile.Write(ref _consumerSleeps, 1);
            Interlocked.MemoryBarrier();
            if (_items.IsEmpty && !_completed) _wake.Wait();
            Volatile.Write(ref _consumerSleeps, 0);
        }
    }

    public void Dispose()
    {
        _space.Dispose();
        _wake.Dispose();
    }
}
