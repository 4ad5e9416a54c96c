using System.Threading.Channels;

namespace VmReplay.Recorder;

/// <summary>
/// Hands items from one producer thread to one consumer thread. Adding takes no lock while at
/// most <c>capacity</c> items wait (the vCPU thread adds; a lock it had to share with a consumer
/// running at a lower priority made it wait for that thread's turn on a core); only a producer
/// that gets that far ahead waits for the consumer to take one.
/// </summary>
internal sealed class HandoffQueue<T>(int capacity) : IDisposable
{
    private readonly Channel<T> _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _space = new(0);
    // Items added and not yet taken; each add that takes it past the capacity waits for one
    // release, and each take from above the capacity gives one.
    private int _waiting;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>Adds <paramref name="item"/>, waiting while more than the capacity wait. Producer thread only.</summary>
    public void Add(T item)
    {
        if (!_channel.Writer.TryWrite(item)) throw new InvalidOperationException("the queue is complete");
        if (Interlocked.Increment(ref _waiting) > capacity) _space.Wait();
    }

    /// <summary>No more items: <see cref="Consume"/> ends once it has taken those added. Producer thread only.</summary>
    public void Complete()
    {
        IsCompleted = true;
        _channel.Writer.TryComplete();
    }

    /// <summary>The items in the order added, waiting for each; ends after <see cref="Complete"/>. Consumer thread only.</summary>
    public IEnumerable<T> Consume()
    {
        var reader = _channel.Reader;
        while (true)
        {
            while (reader.TryRead(out var item))
            {
                if (Interlocked.Decrement(ref _waiting) >= capacity) _space.Release();
                yield return item;
            }
            if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) yield break;
        }
    }

    public void Dispose() => _space.Dispose();
}
