using System.Text.RegularExpressions;

using static VmReplay.Integration.Tests.GdbDriver;

namespace VmReplay.Integration.Tests;

/// <summary>
/// The real gdb against `vmreplay replay --gdb`: watchpoints on memory that no guest store
/// instruction changes (an interrupt frame the delivery pushes, an instruction the VMM emulates,
/// bytes the replay takes from a snapshot) stop as watchpoint hits, forwards and in reverse, and
/// say what wrote; never a bare SIGTRAP.
/// </summary>
public sealed class GdbWatchpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-watch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string guest, params string[] options) => Record(null, guest, options);

    private string Record(string? cpu, string guest, params string[] options)
    {
        string trace = Path.Combine(_dir, $"{guest}.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest(guest, $"{guest}.elf"), "-o", trace, "--serial-in", "/dev/null", .. options], cpu: cpu);
        Assert.True(r.ExitCode == 1 && File.Exists(trace), r.Stderr);
        return trace;
    }


    /// <summary>The text gdb printed for each stop, split at the `x/i $pc` lines that follow them.</summary>
    private static List<string> Stops(string gdb) => Regex.Split(gdb, @"(?<==> 0x[0-9a-f]+ <[^>]+>:[^\n]*\n)").ToList();

    private static (ulong Pc, string Function, string Instruction) At(string stop)
    {
        var m = Regex.Match(stop, @"=> 0x([0-9a-f]+) <(\w+)(\+\d+)?>:\s+([^\n]*)");
        Assert.True(m.Success, stop);
        return (Convert.ToUInt64(m.Groups[1].Value, 16), m.Groups[2].Value, m.Groups[4].Value.Trim());
    }

    private static void NoBareTrap(string gdb, string stub)
    {
        Assert.DoesNotContain("SIGTRAP", gdb);
        Assert.DoesNotContain("Remote connection closed", gdb);
        Assert.DoesNotContain("not a position", stub);
        Assert.DoesNotContain("recording ends", stub);
    }

    [Theory, MemberData(nameof(Vmreplay.Backends), MemberType = typeof(Vmreplay))]
    public void WatchpointsOnAnInterruptFrameStopAtTheDeliveryAndAtTheEmulatedIretBothWays(string cpu)
    {
        // The timer guest's main loop polls with the stack at stack_top; IRQ 0's delivery pushes
        // EFLAGS, CS and EIP below it, and the handler's plain iret (emulated by the VMM on this
        // host's KVM: it exits; on the software CPU, the processor's own) reads them back. The CS
        // slot is 8 from the first interrupt on. The software CPU watches the delivery's and the
        // iret's accesses as it watches every instruction's.
        Vmreplay.RequireBackend(cpu);
        string elf = Vmreplay.Guest("timer", "timer.elf");
        string trace = Record(cpu, "timer");
        ulong csSlot = ElfSymbols.Address(elf, "stack_top") - 8;
        ulong handler = ElfSymbols.Address(elf, "irq0_handler"), poll = ElfSymbols.Address(elf, "poll");
        string w = $"*(int*)0x{csSlot:x}";
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break irq0_handler", "continue", "continue", "delete",
            // watch: back to the first delivery (the only one that changed the slot), then forward to it.
            $"watch {w}", "reverse-continue", "x/i $pc", "continue", "x/i $pc",
            // awatch: the iret's read of the slot (an instruction that ends at a VM exit), back
            // before it, then the next delivery's write of an equal value.
            "delete", $"awatch {w}", "continue", "x/i $pc", "reverse-continue", "x/i $pc", "continue", "x/i $pc", "continue", "x/i $pc",
            // watch again, forward only: the next change is puts' push after the loop.
            "delete", $"watch {w}", "continue", "x/i $pc", "continue");
        NoBareTrap(gdb, stub);
        var stops = Stops(gdb);
        Assert.True(stops.Count == 8, gdb + stub);
        // gdb prints the stub's console lines on stderr, after stdout here: count them.
        const string delivery = "written by the delivery of an external interrupt";
        Assert.Equal(3, Regex.Matches(gdb, delivery).Count);

        // Reverse: stopped at the interrupted instruction in the polling loop; the slot held 8
        // at the second handler entry and, before the first delivery, what pit_start pushed.
        var back = At(stops[0]);
        Assert.InRange(back.Pc, poll, handler - 1);
        var first = Regex.Match(stops[0], @"Hardware watchpoint 2: \*\(int\*\)0x[0-9a-f]+\s+Old value = 8\s+New value = (\d+)");
        Assert.True(first.Success, stops[0]);
        Assert.NotEqual("8", first.Groups[1].Value);
        // Forward: the same delivery, at the handler's first instruction.
        Assert.Equal(handler, At(stops[1]).Pc);
        Assert.Matches($@"Old value = {first.Groups[1].Value}\s+New value = 8", stops[1]);

        // awatch: the emulated iret reads the slot (forward: just after it, back in the loop) ...
        Assert.Contains("Hardware access (read/write) watchpoint 3", stops[2]);
        Assert.InRange(At(stops[2]).Pc, poll, handler - 1);
        // ... in reverse, just before it ...
        Assert.Equal(("irq0_handler", "iret"), (At(stops[3]).Function, At(stops[3]).Instruction));
        Assert.Matches(@"Value = 8", stops[3]);
        // ... forward again past it, then the next delivery writes 8 over 8: still an access.
        Assert.InRange(At(stops[4]).Pc, poll, handler - 1);
        Assert.Equal(handler, At(stops[5]).Pc);

        // A forward continue that stopped for a change found by a free run knows where it is:
        // the next continue goes on to puts' push of its string pointer.
        var puts = At(stops[6]);
        Assert.Equal("puts", puts.Function);
        Assert.Matches(@"Old value = 8\s+New value = \d+", stops[6]);
        Assert.Contains("No more reverse-execution history", stops[7]);
    }

    [Fact]
    public void OnTheSoftwareCpuAnRdtscValueIsReplayedAndOnlyTheGuestsStoreIsAHit()
    {
        // The software CPU's RDTSC is an exit the VMM answers from the recorded clock: the replay
        // computes the recorded value itself, so no snapshot rewrites it and the watchpoint stops
        // only at the guest's own store, in both directions.
        string elf = Vmreplay.Guest("tscdata", "tscdata.elf");
        string trace = Record("soft", "tscdata", "--snapshot-every", "500");
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break done", "continue", "watch *(unsigned int*)&stamp",
            "reverse-continue", "x/i $pc", "reverse-continue", "x/i $pc", "continue", "x/i $pc", "continue");
        NoBareTrap(gdb, stub);
        Assert.DoesNotContain("no guest instruction wrote this value", gdb);
        var stops = Stops(gdb);
        Assert.True(stops.Count == 4, gdb + stub);
        var store = Regex.Match(stops[0], @"Hardware watchpoint 2: \*\(unsigned int\*\)&stamp\s+Old value = (\d+)\s+New value = 0");
        Assert.True(store.Success, stops[0] + stub);
        Assert.Equal("stamped", At(stops[0]).Function);
        Assert.Contains("No more reverse-execution history", stops[1]);
        Assert.Matches($@"Old value = 0\s+New value = {store.Groups[1].Value}\b", stops[2]);
        Assert.Equal("stamped", At(stops[2]).Function);
        Assert.Contains("Breakpoint 1, done", stops[3]);
    }

    [Fact]
    public void AValueTheReplayTakesFromASnapshotStopsAsAWatchpointHitThatSaysWhy()
    {
        // On KVM, RDTSC is not recorded (KVM cannot intercept it). tscdata stores an RDTSC
        // reading, then only does port I/O: a replay computes another value and takes the
        // recorded one at the next snapshot (after exit 500). That change is a watchpoint hit
        // with gdb's Old/New values and a console line saying what wrote, both ways; the
        // guest's own store is the hit before it.
        Vmreplay.RequireBackend("kvm");
        string elf = Vmreplay.Guest("tscdata", "tscdata.elf");
        string trace = Record("kvm", "tscdata", "--snapshot-every", "500");
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break done", "continue", "watch *(unsigned int*)&stamp",
            "reverse-continue", "x/i $pc", "reverse-continue", "x/i $pc",
            "continue", "x/i $pc", "continue", "x/i $pc", "continue");
        NoBareTrap(gdb, stub);
        var stops = Stops(gdb);
        Assert.True(stops.Count == 5, gdb + stub);
        // gdb prints the stub's console lines on stderr, after stdout here.
        var notes = Regex.Matches(gdb, @"vmreplay: watchpoint 0x[0-9a-f]+: no guest instruction wrote this value\. .*snapshot 1\b.*RDTSC").Count;
        Assert.True(notes == 2, gdb);

        // Reverse from the end of the loop: the snapshot's rewrite, before the port write whose exit took it.
        var adopted = Regex.Match(stops[0], @"Hardware watchpoint 2: \*\(unsigned int\*\)&stamp\s+Old value = (\d+)\s+New value = (\d+)");
        Assert.True(adopted.Success, stops[0] + stub);
        Assert.Equal("io_loop", At(stops[0]).Function);
        Assert.Matches(@"^out\s+%al,\$0x80", At(stops[0]).Instruction);
        string recorded = adopted.Groups[1].Value;
        // Further back: the guest's store of its own TSC reading, the slot still 0 before it.
        Assert.Matches($@"Old value = {adopted.Groups[2].Value}\s+New value = 0", stops[1]);
        Assert.Equal("stamped", At(stops[1]).Function);
        // Forward: just after that store, then the rewrite again, to the recorded value.
        Assert.Matches(@"Old value = 0\s+New value = \d+", stops[2]);
        Assert.Equal("stamped", At(stops[2]).Function);
        Assert.Matches($@"New value = {recorded}\b", stops[3]);
        Assert.Equal("io_loop", At(stops[3]).Function);
        Assert.Contains("Breakpoint 1, done", stops[4]);
    }
}
