using System.Text.RegularExpressions;

namespace VmReplay.Devices.Tests;

/// <summary>
/// The determinism rule, checked on the source: no device or VMM code reads wall time,
/// randomness or host input except through the engine clock and serial input, whose host-side
/// implementations are the only files allowed to.
/// </summary>
public partial class DeterminismRulesTests
{
    private static readonly string[] HostSideFiles =
    [
        "src/Engine/Determinism/HostMonotonicClock.cs",   // the one clock
        "src/Engine/Determinism/StreamSerialInput.cs",    // the one input
        "src/Engine/Run/LiveHostEvents.cs",               // notices deadlines on host time, only kicks
        "src/Devices/Platform/LiveSources.cs",            // opens stdin for StreamSerialInput
    ];

    [GeneratedRegex(@"DateTime\.(Now|UtcNow|Today)|DateTimeOffset\.(Now|UtcNow)|Stopwatch|Environment\.TickCount|new Random\(|Random\.Shared|RandomNumberGenerator|Console\.(In|Read|OpenStandardInput)|Guid\.NewGuid")]
    private static partial Regex HostReads();

    [Fact]
    public void OnlyTheEngineClockAndInputReadTheHost()
    {
        string root = FindRoot();
        var offenders = new List<string>();
        foreach (var dir in new[] { "src/Engine", "src/Devices" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(root, file).Replace('\\', '/');
                if (rel.Contains("/obj/") || HostSideFiles.Contains(rel)) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    if (HostReads().IsMatch(lines[i])) offenders.Add($"{rel}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.True(offenders.Count == 0, "host reads outside the engine clock/input:\n" + string.Join('\n', offenders));
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Replay.sln"))) return d.FullName;
        throw new InvalidOperationException("Replay.sln not found");
    }
}
