using System.Text.Json;
using System.Text.RegularExpressions;

namespace VmReplay.Integration.Tests;

/// <summary>
/// <c>replay --to-instruction COUNT[+DELIVERIES]</c>: on a software-CPU recording a retired
/// instruction count names a place exactly, and the state shown there is the same whether the
/// replay got there through a snapshot or straight from the start.
/// </summary>
public sealed class ReplayToInstructionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-to-instruction-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AnInstructionCountLandsOnTheSameStateThroughASnapshotOrFromTheStart()
    {
        string trace = Path.Combine(_dir, "timer.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "--cmdline", "30", "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "5"], cpu: "soft");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        var counts = Vmreplay.Run(["events", trace, "--json"]).Stdout.TrimEnd('\n').Split('\n')
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(o => o.TryGetProperty("instructions", out var n) && n.ValueKind == JsonValueKind.Number)
            .Select(o => o.GetProperty("instructions").GetInt64())
            .ToList();
        Assert.True(counts.Count > 20, $"only {counts.Count} events with instruction counts");
        var random = new Random(7);
        // Just before, at and after exits, and between them, across the whole recording.
        var targets = Enumerable.Range(0, 6).Select(_ => counts[random.Next(counts.Count * 9 / 10)] + random.Next(-3, 40)).Append(0).ToList();
        foreach (long target in targets)
        {
            var viaSnapshot = Vmreplay.Run(["replay", trace, "--to-instruction", $"{target}"], cpu: "soft");
            var straight = Vmreplay.Run(["replay", trace, "--to-instruction", $"{target}", "--from-start"], cpu: "soft");
            Assert.True(viaSnapshot.ExitCode == 0, viaSnapshot.Stderr);
            Assert.True(straight.ExitCode == 0, straight.Stderr);
            Assert.Matches($@"vmreplay: at instruction {target}, event \d+ \(after exit \d+, \d+ snapshot restores\); state hash [0-9a-f]{{16}} [0-9a-f]{{16}}\n", viaSnapshot.Stderr);
            Assert.Equal(Place(straight.Stderr), Place(viaSnapshot.Stderr));
        }
    }

    // The report without the count of snapshot restores, which is how it got there.
    private static string Place(string stderr) => Regex.Replace(stderr, @", \d+ snapshot restores\)", ")");

    [Fact]
    public void AKvmRecordingOrAWrongCountIsRefusedInOneLine()
    {
        string kvm = Path.Combine(Vmreplay.RepoRoot, "tests", "Recorder.Tests", "Fixtures", "hello-v1.vmtrace");
        var refused = Vmreplay.Run(["replay", kvm, "--to-instruction", "100"], cpu: "soft");
        Assert.Equal(3, refused.ExitCode);
        Assert.Matches(@"(^|\n)vmreplay: --to-instruction: .*hello-v1.vmtrace was recorded on kvm and replays on soft; instruction counts name positions only in a software-CPU recording replayed on the software CPU \(use --to EVENT\[\+INSTRUCTIONS\]\)\n$", refused.Stderr);

        string trace = Path.Combine(_dir, "hello.vmtrace");
        Assert.Equal(1, Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft").ExitCode);
        foreach (var (arg, error) in new[]
                 {
                     ("12x", "--to-instruction: '12x' is not an instruction count: give COUNT or COUNT+DELIVERIES (1200000, 1200000+1)"),
                     ("-5", "--to-instruction: '-5' is not an instruction count: give COUNT or COUNT+DELIVERIES (1200000, 1200000+1)"),
                     ("10+1", "--to-instruction: there is no instruction 10 + 1 interrupt delivery"),
                 })
        {
            var bad = Vmreplay.Run(["replay", trace, "--to-instruction", arg], cpu: "soft");
            Assert.Equal(3, bad.ExitCode);
            Assert.Contains($"vmreplay: {error}", bad.Stderr);
            Assert.DoesNotContain("   at ", bad.Stderr);
        }
        var past = Vmreplay.Run(["replay", trace, "--to-instruction", "999999999999"], cpu: "soft");
        Assert.Equal(3, past.ExitCode);
        Assert.Contains("before instruction 999999999999", past.Stderr);
        var both = Vmreplay.Run(["replay", trace, "--to", "3", "--to-instruction", "10"], cpu: "soft");
        Assert.Equal(3, both.ExitCode);
        Assert.Contains("vmreplay: --to and --to-instruction: give one place to stop", both.Stderr);
    }
}
