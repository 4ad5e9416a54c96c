using VmReplay.Engine.Backend;
using VmReplay.Recorder;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// A reverse-continue passes over the snapshot intervals that touch none of its watches' pages
/// the way they watch them and run nothing on its breakpoints' pages
/// (<see cref="ExactReverseExecutor.PassesOverIntervals"/>): it must stop exactly where one that
/// replays every interval stops, for any watch, rwatch, awatch and breakpoint.
/// </summary>
public sealed class ReverseContinueIntervalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-intervals-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("ticks", "ticks.elf", 1, "ticks limit stack_top idt tss", "irq0_handler poll puthex", "2ms", "n=30")]
    [InlineData("failing-boot", "failing-boot.elf", 3, "ticks tick_log boot_info boot_stack_top early_scratch idt", "log_tick timer_interrupt mmap_checksum", "20", null)]
    public void PassingOverIntervalsStopsWhereScanningEveryIntervalStops(string guest, string file, int status, string symbols, string routines, string interval, string? cmdline)
    {
        string elf = Vmreplay.Guest(guest, file);
        string trace = Path.Combine(_dir, $"{guest}.vmtrace");
        var r = Vmreplay.Run(["record", elf, "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", interval, .. cmdline is null ? Array.Empty<string>() : ["--cmdline", cmdline]], cpu: "soft");
        Assert.True(r.ExitCode == status, r.Stderr);
        using var reader = TraceReader.Open(trace);
        Assert.True(reader.Snapshots.Count > 10, $"only {reader.Snapshots.Count} snapshots");

        using var pair = new PassingAndReplaying(reader);
        var (skipping, scanning, passing, replaying, end) = (pair.PassingSession, pair.ReplayingSession, pair.Passing, pair.Replaying, pair.End);

        // Watches on the guest's variables, its stack (where interrupt frames go) and tables, at
        // and around each symbol, and on a page nothing writes.
        var random = new Random(97);
        var watches = new List<(ulong Address, int Length)> { (0x1f0000, 4) };
        foreach (string name in symbols.Split(' '))
        {
            ulong at = ElfSymbols.Address(elf, name);
            watches.Add((at, 4));
            watches.Add((at - 4, 4));
            watches.Add((at - 0x40 + (ulong)random.Next(0x80), new[] { 1, 2, 4, 8 }[random.Next(4)]));
        }
        int restoresBefore = skipping.Restores;
        var kinds = new HashSet<DebugStopKind>();
        // Both from the end, up to `times` reverse-continues or the start: the same stops.
        void BackFromTheEnd(int times, string what)
        {
            passing.GoTo(end);
            replaying.GoTo(end);
            for (int i = 0; i < times; i++)
            {
                var expected = replaying.ContinueBackward();
                var actual = passing.ContinueBackward();
                Assert.True((expected, replaying.Position) == (actual, passing.Position),
                    $"{what}, reverse-continue {i + 1}: {expected} at {replaying.Position} when every interval is replayed, {actual} at {passing.Position} passing over");
                kinds.Add(actual.Kind);
                if (actual.Kind == DebugStopKind.Begin) break;
            }
        }
        // Each watched range as gdb's watch, rwatch and awatch in turn.
        var kindsOfWatch = new[] { WatchKind.Write, WatchKind.Read, WatchKind.Access };
        foreach (var ((address, length), n) in watches.Select((w, n) => (w, n)))
        {
            var kind = kindsOfWatch[n % kindsOfWatch.Length];
            int restores = skipping.Restores;
            skipping.Watches = scanning.Watches = [new WatchedRange(address, length, [(address, length)], kind)];
            BackFromTheEnd(4, $"{kind} watch {address:x}/{length}");
            // Nothing writes that page: straight to the start, replaying nothing on the way
            // (the one restore puts the machine at the start).
            if (address == 0x1f0000) Assert.Equal(1, skipping.Restores - restores); // (a write watch)
        }
        // Breakpoints on the guest's routines, alone and beside a watch (these guests run all
        // their code from one or two pages, which every interval runs: this holds the stops
        // exact; the Linux boot's test shows intervals passed over).
        foreach (string routine in routines.Split(' '))
        {
            ulong at = ElfSymbols.Address(elf, routine);
            foreach (var set in new[] { Array.Empty<WatchedRange>(), [new WatchedRange(watches[1].Address, 4, [(watches[1].Address, 4)], WatchKind.Write)] })
            {
                skipping.Breakpoints = scanning.Breakpoints = [at];
                skipping.Watches = scanning.Watches = set;
                BackFromTheEnd(3, $"break {routine} with {set.Length} watches");
            }
        }
        skipping.Breakpoints = scanning.Breakpoints = [];

        // With nothing set there is nothing to find: straight to the start.
        skipping.Watches = scanning.Watches = [];
        passing.GoTo(end);
        replaying.GoTo(end);
        int beforeNothing = skipping.Restores;
        Assert.Equal(DebugStopKind.Begin, replaying.ContinueBackward().Kind);
        Assert.Equal(DebugStopKind.Begin, passing.ContinueBackward().Kind);
        Assert.Equal(replaying.Position, passing.Position);
        Assert.Equal(1, skipping.Restores - beforeNothing);

        Assert.Contains(DebugStopKind.Watch, kinds);
        Assert.Contains(DebugStopKind.ReadWatch, kinds);
        Assert.Contains(DebugStopKind.AccessWatch, kinds);
        Assert.Contains(DebugStopKind.Breakpoint, kinds);
        Assert.Contains(DebugStopKind.Begin, kinds);
        // And it did pass over intervals: fewer restores than replaying each. (Not many fewer:
        // these guests keep their variables on the page their tick counter or their stack is
        // on, which every interval writes.)
        Assert.True(skipping.Restores - restoresBefore < scanning.Restores,
            $"{skipping.Restores - restoresBefore} restores passing over, {scanning.Restores} replaying every interval");
    }
}
