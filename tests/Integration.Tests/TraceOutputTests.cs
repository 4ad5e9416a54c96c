using System.Diagnostics;
using VmReplay.Recorder;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A recording can be written where no regular file is: thrown away (/dev/null, to time a
/// recording or check that one works) or into a pipe (to another host, to compression). Neither
/// can be truncated or sought in, and neither must stop the recording. A trace already at the
/// path is replaced (through a symbolic link, the file it points to).
/// </summary>
public sealed class TraceOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-output-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ARecordingToDevNullRunsToTheEnd()
    {
        var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", "/dev/null", "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr); // hello's debug-exit with 0
        Assert.Matches(@"recorded \d+ events, \d+ exits, 1 snapshots, \d+ bytes to /dev/null", record.Stderr);
        Assert.DoesNotContain("failed", record.Stderr);
    }

    [Fact]
    public void ARecordingOverALongerTraceReplacesItWhole()
    {
        // The old trace is a new file's worth longer, so anything of it left behind would show.
        string trace = Path.Combine(_dir, "trace.vmtrace");
        var longer = Vmreplay.Run(["record", Vmreplay.Guest("ticks", "ticks.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(longer.ExitCode == 1, longer.Stderr);
        long before = new FileInfo(trace).Length;
        string fresh = Path.Combine(_dir, "fresh.vmtrace");
        foreach (string path in new[] { trace, fresh })
        {
            var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", path, "--serial-in", "/dev/null"], cpu: "soft");
            Assert.True(record.ExitCode == 1, record.Stderr);
        }
        Assert.True(new FileInfo(trace).Length < before);
        Assert.Equal(File.ReadAllBytes(fresh), File.ReadAllBytes(trace));
        var replay = Vmreplay.Run(["replay", "--strict", trace]);
        Assert.True(replay.ExitCode == 1, replay.Stderr);
    }

    [Fact]
    public void ARecordingThroughASymbolicLinkWritesTheFileItPointsTo()
    {
        string target = Path.Combine(_dir, "target.vmtrace"), link = Path.Combine(_dir, "link.vmtrace");
        var first = Vmreplay.Run(["record", Vmreplay.Guest("ticks", "ticks.elf"), "-o", target, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(first.ExitCode == 1, first.Stderr);
        File.CreateSymbolicLink(link, target);
        var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", link, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        using var reader = TraceReader.Open(target);
        Assert.Equal("hello.elf", reader.Header.GuestName);
    }

    [Fact]
    public async Task ARecordingIntoAPipeIsACompleteTraceAtItsOtherEnd()
    {
        string fifo = Path.Combine(_dir, "trace.fifo");
        using (var mkfifo = Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        // Opening a pipe's read end waits for its writer.
        var read = Task.Run(() =>
        {
            var bytes = new MemoryStream();
            using (var pipe = File.OpenRead(fifo)) pipe.CopyTo(bytes);
            return bytes.ToArray();
        }, TestContext.Current.CancellationToken);
        var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", fifo, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr);
        byte[] written = await read.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        using var trace = TraceReader.Open(new MemoryStream(written), "pipe");
        Assert.True(trace.File.IsComplete);
        Assert.Contains(trace.Events(), e => e is Recorder.Events.EndEvent);
    }
}
