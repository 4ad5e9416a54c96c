using System.Runtime.CompilerServices;
using VmReplay.Recorder.Faults;

namespace VmReplay.Recorder.Tests;

public sealed class VmmFaultCaptureTests
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ParkedInKnownMethod(ManualResetEventSlim release) => release.Wait();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static VmmFault FailAndCapture()
    {
        try { throw new InvalidOperationException("device model broke"); }
        catch (InvalidOperationException e) { return VmmFaultCapture.Capture(e); }
    }

    [Fact]
    public void CapturesTheExceptionAndEveryManagedThreadsStack()
    {
        using var release = new ManualResetEventSlim();
        var worker = new Thread(() => ParkedInKnownMethod(release)) { Name = "vmreplay test worker", IsBackground = true };
        worker.Start();
        try
        {
            Thread.Sleep(100);
            var fault = FailAndCapture();
            Assert.True(fault.CaptureError is null, fault.CaptureError);
            Assert.Equal("System.InvalidOperationException", fault.ExceptionType);
            Assert.Equal("device model broke", fault.Message);
            Assert.Contains(nameof(FailAndCapture), fault.StackTrace);
            Assert.True(fault.Threads.Count >= 2);
            Assert.Contains(fault.Threads, t => t.Frames.Any(f => f.Contains(nameof(FailAndCapture))));
            var parked = Assert.Single(fault.Threads, t => t.Frames.Any(f => f.Contains(nameof(ParkedInKnownMethod))));
            Assert.Equal("vmreplay test worker", parked.Name);
            Assert.Contains("vmreplay test worker", fault.Describe());
        }
        finally
        {
            release.Set();
            worker.Join();
        }
    }

    [Fact]
    public void TheRecordRoundTripsThroughJsonAndGarbageIsRefused()
    {
        var fault = new VmmFault("X", "m", "at A\nat B", [new VmmThreadStack(1, 77, "vCPU 0", ["A()", "B()"])], null);
        var back = VmmFault.FromJson(fault.ToJson());
        Assert.Equal(fault.ExceptionType, back.ExceptionType);
        Assert.Equal(fault.StackTrace, back.StackTrace);
        Assert.Equal(["A()", "B()"], back.Threads[0].Frames);
        Assert.Equal("vCPU 0", back.Threads[0].Name);
        Assert.Throws<System.Text.Json.JsonException>(() => VmmFault.FromJson("{\"nope\":1}"u8));
        Assert.Throws<System.Text.Json.JsonException>(() => VmmFault.FromJson("garbage"u8));
    }
}
