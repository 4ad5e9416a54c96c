using System.Text.Json;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// Snapshots are written with a generated serializer and read with the reflection-based one: the
/// two must write the same bytes for every device state a recording holds.
/// </summary>
public class DeviceStateJsonTests
{
    [Theory]
    [InlineData("timer-v3.vmtrace")]
    [InlineData("hello-v4.vmtrace")]
    [InlineData("hello-v2.vmtrace")]
    public void TheGeneratedSerializerWritesWhatReflectionWrites(string corpusTrace)
    {
        using var trace = TraceReader.Open(Corpus(corpusTrace));
        Assert.NotEmpty(trace.Snapshots);
        foreach (var chunk in trace.Snapshots)
        {
            var s = trace.ReadSnapshot(chunk, withPages: false);
            var part = new SnapshotCodec.MachinePart(s.Machine.Platform, s.Machine.Counters);
            string generated = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(part, DeviceStateJsonContext.Default.MachinePart));
            string reflected = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(part, SnapshotCodec.DeviceStateJson));
            Assert.Equal(reflected, generated);
            // And it reads back to the same state.
            var read = JsonSerializer.Deserialize<SnapshotCodec.MachinePart>(generated, SnapshotCodec.DeviceStateJson)!;
            Assert.Equal(reflected, JsonSerializer.Serialize(read, SnapshotCodec.DeviceStateJson));
        }
    }

    private static string Corpus(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Fuzz", "Corpus", "trace", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"the fuzz corpus trace {name} is not above {AppContext.BaseDirectory}");
    }
}
