using VmReplay.Recorder.Events;

namespace VmReplay.Recorder.Tests;

public sealed class RecordingProgressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-progress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ProgressSamplesTheWritersCountersAndRates()
    {
        using var writer = new TraceWriter(Path.Combine(_dir, "t.vmtrace"), TestHeaders.For([1]), new byte[] { 1 });
        var samples = new List<RecordingProgress>();
        using (RecordingProgress.Of(writer, TimeSpan.FromMilliseconds(20)).Subscribe(p => { lock (samples) samples.Add(p); }))
        {
            for (int i = 0; i < 5000; i++) writer.Append(new ClockEvent(i));
            // The writer thread writes the header and the events when it gets to them: a loaded
            // host (CI, tests in parallel) can take more than three samples' time before it does.
            SpinWait.SpinUntil(() => { lock (samples) return samples.Count >= 3 && samples[^1].TraceBytes > 16; }, TimeSpan.FromSeconds(10));
        }
        lock (samples)
        {
            Assert.True(samples.Count >= 3);
            Assert.Equal(5000, samples[^1].Events);
            Assert.True(samples[0].EventsPerSecond > 0);
            Assert.True(samples[^1].TraceBytes > 16);
            Assert.StartsWith("recording: 5", samples[^1].Describe());
        }
        writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false);
    }
}
