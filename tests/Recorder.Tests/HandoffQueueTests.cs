namespace VmReplay.Recorder.Tests;

/// <summary>The trace writer's queue: order kept, a producer held back only past its capacity, never lost or stuck.</summary>
public class HandoffQueueTests
{
    [Fact]
    public void AProducerPastTheCapacityWaitsUntilTheConsumerTakesOne()
    {
        using var queue = new HandoffQueue<int>(capacity: 2);
        using var added = new ManualResetEventSlim();
        var producer = new Thread(() =>
        {
            for (int i = 0; i < 3; i++) queue.Add(i);
            added.Set();
        });
        producer.Start();
        // Two fit; the third add waits for as long as nothing is taken.
        Assert.False(added.Wait(300, TestContext.Current.CancellationToken));
        using var items = queue.Consume().GetEnumerator();
        Assert.True(items.MoveNext());
        Assert.Equal(0, items.Current);
        Assert.True(added.Wait(30_000, TestContext.Current.CancellationToken));
        producer.Join();
        queue.Complete();
        Assert.True(items.MoveNext());
        Assert.Equal(1, items.Current);
        Assert.True(items.MoveNext());
        Assert.Equal(2, items.Current);
        Assert.False(items.MoveNext());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void EveryItemArrivesOnceInOrderWhateverTheConsumersPace(int capacity)
    {
        using var queue = new HandoffQueue<int>(capacity);
        const int count = 200_000;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < count; i++) queue.Add(i);
            queue.Complete();
        });
        producer.Start();
        var random = new Random(capacity);
        int expected = 0;
        foreach (int item in queue.Consume())
        {
            Assert.Equal(expected++, item);
            if (random.Next(1000) == 0) Thread.Sleep(1); // now and then the consumer falls behind
        }
        producer.Join();
        Assert.Equal(count, expected);
        Assert.True(queue.IsCompleted);
    }
}
