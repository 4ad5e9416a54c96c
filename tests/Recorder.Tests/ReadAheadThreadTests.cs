namespace VmReplay.Recorder.Tests;

public sealed class ReadAheadThreadTests
{
    [Fact]
    public async Task WorkRunsInOrderOnTheThreadOfItsOwnAndGivesItsResult()
    {
        using var reads = new ReadAheadThread("test reads");
        var order = new List<int>();
        int caller = Environment.CurrentManagedThreadId;
        var tasks = Enumerable.Range(0, 50).Select(i => reads.Run(() =>
        {
            lock (order) order.Add(i);
            return (i, Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread, Environment.CurrentManagedThreadId);
        })).ToList();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(Enumerable.Range(0, 50), order);
        Assert.Equal(Enumerable.Range(0, 50), results.Select(r => r.i));
        Assert.All(results, r => Assert.Equal("test reads", r.Name));
        Assert.All(results, r => Assert.False(r.IsThreadPoolThread));
        Assert.Single(results.Select(r => r.CurrentManagedThreadId).Distinct());
        Assert.NotEqual(caller, results[0].CurrentManagedThreadId);
    }

    [Fact]
    public async Task AFailureComesInItsTaskAndTheWorkAfterItStillRuns()
    {
        using var reads = new ReadAheadThread("test reads");
        var failing = reads.Run<int>(() => throw new FormatException("chunk 3 does not decode"));
        var after = reads.Run(() => 7);
        Assert.Equal("chunk 3 does not decode", (await Assert.ThrowsAsync<FormatException>(() => failing)).Message);
        Assert.Equal(7, await after);
    }

    [Fact]
    public async Task DisposedItRunsWhatWasQueuedAndTakesNoMore()
    {
        var reads = new ReadAheadThread("test reads");
        using var gate = new ManualResetEventSlim();
        var first = reads.Run(() => { gate.Wait(); return 1; });
        var second = reads.Run(() => 2);
        reads.Dispose();
        gate.Set();
        Assert.Equal(1, await first);
        Assert.Equal(2, await second);
        // Refused as it is queued, not in the task.
        Assert.Throws<ObjectDisposedException>(() => Queue(reads));
    }

    private static void Queue(ReadAheadThread reads) => _ = reads.Run(() => 3);
}
