using System.Text.Json;
using VmReplay.Recorder;

namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>vmreplay events</c> lists what a trace recorded, numbered as replay and diff number it, so a
/// divergence at event N can be read in context.
/// </summary>
public sealed class EventsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-events-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RecordHello()
    {
        string trace = Path.Combine(_dir, "hello.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(r.ExitCode == 1, r.Stderr);
        return trace;
    }

    [Fact]
    public void EveryEventIsListedOnceInOrderWithTheNumbersReplayUses()
    {
        string trace = RecordHello();
        long total;
        using (var reader = TraceReader.Open(trace)) total = reader.Events().LongCount();
        var all = Vmreplay.Run(["events", trace]);
        Assert.True(all.ExitCode == 0 && all.Stderr == "", all.Stderr);
        var lines = all.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(total, lines.Length);
        for (int i = 0; i < lines.Length; i++) Assert.StartsWith($"{i}: ", lines[i]);
        // hello's first act is programming the UART's divisor through port 3F9, and the last event is the end.
        Assert.Matches(@"^0: exit Io out port 03f9 .* \(instruction \d+\)$", lines[0]);
        Assert.StartsWith($"{total - 1}: end: DebugExit", lines[^1]);

        var window = Vmreplay.Run(["events", trace, "--from", "2", "-n", "3"]);
        Assert.Equal(lines[2..5], window.Stdout.TrimEnd('\n').Split('\n'));

        var json = Vmreplay.Run(["events", trace, "--from", "2", "--count", "2", "--json"]);
        Assert.Equal(0, json.ExitCode);
        var objects = json.Stdout.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([2L, 3L], objects.Select(o => o.GetProperty("index").GetInt64()));
        Assert.All(objects, o => Assert.Equal("Exit", o.GetProperty("kind").GetString()));
        Assert.Equal(lines[2], $"2: {objects[0].GetProperty("text").GetString()}");
        Assert.True(objects[1].GetProperty("instructions").GetInt64() > objects[0].GetProperty("instructions").GetInt64());
    }

    [Fact]
    public void ATruncatedTraceListsItsCompleteChunksAndSaysSo()
    {
        string trace = Path.Combine(_dir, "timer.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "--cmdline", "30", "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "5"], cpu: "soft");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        var bytes = File.ReadAllBytes(trace);
        string cut = Path.Combine(_dir, "cut.vmtrace");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 9 / 10)]);

        var full = Vmreplay.Run(["events", trace]).Stdout.Split('\n');
        var part = Vmreplay.Run(["events", cut]);
        Assert.Equal(0, part.ExitCode);
        var listed = part.Stdout.TrimEnd('\n').Split('\n');
        Assert.InRange(listed.Length, 10, full.Length - 2);
        Assert.Equal(full[..listed.Length], listed);
        Assert.Matches($@"^vmreplay: {System.Text.RegularExpressions.Regex.Escape(cut)} is incomplete \(.*\); listed the events of its complete chunks\n$", part.Stderr);
    }

    [Theory]
    [InlineData("--from", "-1", "--from -1: an event index is 0 or more")]
    [InlineData("--count", "-2", "--count -2: give 0 or more events")]
    [InlineData("--from", "5000", "no event 5000: the trace holds")]
    public void AnImpossibleRangeIsOneLineAndExitThree(string option, string value, string message)
    {
        string trace = RecordHello();
        var r = Vmreplay.Run(["events", trace, option, value]);
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void AMissingTraceIsNamed()
    {
        var r = Vmreplay.Run(["events", Path.Combine(_dir, "none.vmtrace")]);
        Assert.Equal((3, $"vmreplay: {Path.Combine(_dir, "none.vmtrace")}: no such trace file\n"), (r.ExitCode, r.Stderr));
    }
}
