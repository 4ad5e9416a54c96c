using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using VmReplay.Recorder.Faults;

namespace VmReplay.Recorder.Tests;

public sealed class VmmFaultCaptureTests(ITestOutputHelper output)
{
    // 15 bytes, so that the OS thread name Linux keeps is the whole name too.
    private const string WorkerName = "vmreplay parked";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ParkedInKnownMethod(ManualResetEventSlim parked, ManualResetEventSlim release)
    {
        parked.Set();
        release.Wait();
    }

    // The recorder gives a dump 5 s before it records a timeout instead of the stacks; on a
    // loaded test host a dump can take longer, which is the recorder's trade-off and not what
    // these tests check. They give it a generous bound, and report the time it took (how long
    // a capture takes is measured here, not asserted); the timeout has a test of its own.
    private static readonly TimeSpan GenerousDumpTimeout = TimeSpan.FromMinutes(2);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private VmmFault FailAndCapture(long? heapDumpBudget, TimeSpan? heapDumpTimeout)
    {
        try { throw new InvalidOperationException("device model broke"); }
        catch (InvalidOperationException e)
        {
            var clock = Stopwatch.StartNew();
            var fault = VmmFaultCapture.Capture(e, heapDumpBudget ?? VmmFaultCapture.HeapDumpBudget, GenerousDumpTimeout, heapDumpTimeout);
            output.WriteLine($"Capture took {clock.ElapsedMilliseconds} ms for {fault.Threads.Count} threads");
            return fault;
        }
    }

    [Fact]
    public void ADumpThatTakesTooLongIsRecordedAsATimeoutInOneLine()
    {
        var fault = VmmFaultCapture.Capture(new InvalidOperationException("device model broke"), VmmFaultCapture.HeapDumpBudget, TimeSpan.Zero);
        Assert.Equal("TimeoutException: the process dump took longer than 0 s", fault.CaptureError);
        Assert.Empty(fault.Threads);
        Assert.Equal("device model broke", fault.Message);
    }

    private VmmFault CaptureWithParkedWorker(long? heapDumpBudget, TimeSpan? heapDumpTimeout = null, [CallerMemberName] string testMethod = "")
    {
        using var parked = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var worker = new Thread(() => ParkedInKnownMethod(parked, release)) { Name = WorkerName, IsBackground = true };
        worker.Start();
        try
        {
            Assert.True(parked.Wait(TimeSpan.FromSeconds(10)));
            var fault = FailAndCapture(heapDumpBudget, heapDumpTimeout);
            output.WriteLine(fault.Describe());

            Assert.True(fault.CaptureError is null, fault.CaptureError);
            Assert.Equal("System.InvalidOperationException", fault.ExceptionType);
            Assert.Equal("device model broke", fault.Message);
            Assert.Contains(nameof(FailAndCapture), fault.StackTrace);
            Assert.True(fault.Threads.Count >= 3, $"{fault.Threads.Count} threads");
            var self = Assert.Single(fault.Threads, t => t.ManagedThreadId == Environment.CurrentManagedThreadId);
            Assert.Contains(self.Frames, f => f.Contains(nameof(FailAndCapture)));
            Assert.Contains(self.Frames, f => f.Contains(testMethod));
            var parkedStack = Assert.Single(fault.Threads, t => t.Frames.Any(f => f.Contains(nameof(ParkedInKnownMethod))));
            Assert.Equal(worker.ManagedThreadId, parkedStack.ManagedThreadId);
            Assert.Equal(WorkerName, parkedStack.Name);
            Assert.All(fault.Threads, t => Assert.True(t.Frames.Count <= 64));
            return fault;
        }
        finally
        {
            release.Set();
            worker.Join();
        }
    }

    [Fact]
    public void CapturesTheExceptionAndEveryManagedThreadsStack()
    {
        var fault = CaptureWithParkedWorker(heapDumpBudget: null);
        Assert.Contains($"({WorkerName}, OS tid ", fault.Describe());
    }

    [Fact]
    public void ALargeProcessStillGetsEveryStackFromAStackOnlyDump()
    {
        var fault = CaptureWithParkedWorker(heapDumpBudget: 0);
        Assert.Contains(fault.Threads, t => t.Name == ".NET Finalizer");
    }

    /// <summary>A loaded host can take longer over the heap than the recorder waits: the stacks, taken first without it, stand.</summary>
    [Fact]
    public void ADumpWithTheHeapThatTakesTooLongLeavesTheStacksWithTheKernelsNames()
    {
        var fault = CaptureWithParkedWorker(heapDumpBudget: null, heapDumpTimeout: TimeSpan.Zero);
        Assert.Contains(fault.Threads, t => t.Name == ".NET Finalizer");
    }

    [Fact]
    public void TheRecordRoundTripsThroughJson()
    {
        var fault = new VmmFault("System.X", "m \"quoted\"\nline two", "at A\nat B",
            [new VmmThreadStack(1, 77, "vCPU 0", ["A()", "B(Int32)"]), new VmmThreadStack(9, uint.MaxValue, null, [])], "not captured: é");
        var back = VmmFault.FromJson(fault.ToJson());
        Assert.Equal(fault.ExceptionType, back.ExceptionType);
        Assert.Equal(fault.Message, back.Message);
        Assert.Equal(fault.StackTrace, back.StackTrace);
        Assert.Equal(fault.CaptureError, back.CaptureError);
        Assert.Equal(fault.Threads.Count, back.Threads.Count);
        foreach (var (expected, actual) in fault.Threads.Zip(back.Threads))
        {
            Assert.Equal(expected.ManagedThreadId, actual.ManagedThreadId);
            Assert.Equal(expected.OsThreadId, actual.OsThreadId);
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.Frames, actual.Frames);
        }
        Assert.Equal(fault.Describe(), back.Describe());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    [InlineData("{\"nope\":1}")]
    [InlineData("{\"ExceptionType\":\"X\",\"Message\":\"m\",\"StackTrace\":\"s\",\"Threads\":[null],\"CaptureError\":null}")]
    [InlineData("{\"ExceptionType\":\"X\",\"Message\":\"m\",\"StackTrace\":\"s\",\"Threads\":[{\"ManagedThreadId\":1,\"OsThreadId\":2,\"Name\":null,\"Frames\":null}],\"CaptureError\":null}")]
    [InlineData("{\"ExceptionType\":\"X\",\"Message\":\"m\",\"StackTrace\":\"s\",\"Threads\":[{\"ManagedThreadId\":1,\"OsThreadId\":2,\"Name\":null,\"Frames\":[null]}],\"CaptureError\":null}")]
    [InlineData("{\"ExceptionType\":\"X\",\"Message\":\"m\",\"StackTrace\":\"s\",\"Threads\":[{\"ManagedThreadId\":1,\"OsThreadId\":-2,\"Name\":null,\"Frames\":[]}],\"CaptureError\":null}")]
    public void GarbageIsRefusedWithAJsonException(string json)
    {
        Assert.Throws<JsonException>(() => VmmFault.FromJson(System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void RandomAndTruncatedBytesAreRefusedWithAJsonException()
    {
        var random = new Random(1234);
        byte[] valid = new VmmFault("X", "m", "s", [new VmmThreadStack(1, 2, "n", ["F()"])], null).ToJson();
        for (int i = 0; i < 500; i++)
        {
            byte[] bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            Assert.Throws<JsonException>(() => VmmFault.FromJson(bytes));
        }
        for (int length = 0; length < valid.Length; length++)
            Assert.Throws<JsonException>(() => VmmFault.FromJson(valid.AsSpan(0, length)));
    }
}
