using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using VmReplay.Recorder;

using static VmReplay.Integration.Tests.GdbDriver;

namespace VmReplay.Integration.Tests;

/// <summary>The real gdb (-batch -nx) against `vmreplay replay --gdb`: forward and reverse debugging.</summary>
public sealed class GdbDebuggingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-gdb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record(string guest, string file, int status, string? cpu = null)
    {
        string trace = Path.Combine(_dir, $"{guest}.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", "/dev/null"], cpu: cpu);
        Assert.True(r.ExitCode == status && File.Exists(trace), r.Stderr);
        return trace;
    }

    /// <summary>Each `info registers` output: from the first general register to EFER.</summary>
    private static List<string> RegisterDumps(string gdb) =>
        Regex.Matches(gdb, @"^[re]ax\s+0x[0-9a-f]+[\s\S]*?^efer\s+0x[0-9a-f]+\s+\d+", RegexOptions.Multiline).Select(m => m.Value).ToList();


    [Theory, MemberData(nameof(Vmreplay.Backends), MemberType = typeof(Vmreplay))]
    public void ReverseContinueFromThePanicLandsOnTheCorruptingStoreInTheInterruptHandler(string cpu)
    {
        Vmreplay.RequireBackend(cpu);
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, cpu);
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break panic", "continue", "print $pc",
            "watch boot_info->mmap[1].length", "reverse-continue", "print/x $pc", "x/i $pc",
            "reverse-continue", "print/x $pc", "monitor when");
        // A 32-bit guest that never enters long mode: gdb works as typed, no architecture line.
        Assert.DoesNotContain("set architecture", stub);
        Assert.DoesNotContain("too long", gdb);
        Assert.Contains("Breakpoint 1, panic", gdb);
        // The watchpoint stops before the store, in log_tick, which the timer interrupt calls.
        ulong logTick = ElfSymbols.Address(elf, "log_tick"), timerInterrupt = ElfSymbols.Address(elf, "timer_interrupt");
        var pcs = Regex.Matches(gdb, @"\$\d+ = 0x([0-9a-f]+)").Select(m => Convert.ToUInt64(m.Groups[1].Value, 16)).ToList();
        Assert.True(pcs.Count >= 2, gdb + stub);
        Assert.InRange(pcs[0], logTick, timerInterrupt - 1);
        Assert.Matches(@"=> 0x[0-9a-f]+ <log_tick\+\d+>:\s+mov\s+%ecx,\(%ebx\)", gdb);
        // gdb shows the stale tick-log write: the field held a tick count (a multiple of 25) and
        // before that write, the previous logging tick's count; further back, the change before
        // (an earlier stale write, or build_boot_info's real length).
        var changes = Regex.Matches(gdb, @"Old value = (\d+)\s+New value = (\d+)").Select(m => (Old: long.Parse(m.Groups[1].Value), New: long.Parse(m.Groups[2].Value))).ToList();
        Assert.True(changes.Count == 2, gdb + stub);
        Assert.Equal(0, changes[0].Old % 25);
        Assert.Equal(changes[0].Old - 25, changes[0].New);
        Assert.Equal(changes[0].New, changes[1].Old);
        // The software CPU names positions by instruction count; KVM by event and offset.
        Assert.Matches(cpu == "soft" ? @"at instruction \d+, event \d+" : @"at event \d+ \+ \d+ instructions", gdb);
    }

    [Theory, MemberData(nameof(Vmreplay.Backends), MemberType = typeof(Vmreplay))]
    public void ReadAndAccessWatchpointsStopAtTheInstructionsThatTouchTheField(string cpu)
    {
        Vmreplay.RequireBackend(cpu);
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, cpu);
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break panic", "continue", "delete", "rwatch boot_info->mmap[1].length",
            "reverse-continue", "x/i $pc", "reverse-continue", "x/i $pc",
            "delete", "awatch boot_info->mmap[1].length", "reverse-continue", "x/i $pc", "continue", "x/i $pc");
        Assert.Contains("Hardware read watchpoint 2: boot_info->mmap[1].length", gdb);
        // Going back from the panic: the validation's read of the corrupted length (a tick
        // count), then build_boot_info's own checksum read of the real one, both in mmap_checksum.
        var values = Regex.Matches(gdb, @"read watchpoint 2: boot_info->mmap\[1\]\.length\s+Value = (\d+)").Select(m => long.Parse(m.Groups[1].Value)).Distinct().ToList();
        Assert.True(values.Count == 2, gdb + stub);
        Assert.Equal(0, values[0] % 25);
        Assert.NotEqual(values[0], values[1]);
        var reads = Regex.Matches(gdb, @"=> 0x[0-9a-f]+ <(\w+)\+\d+>:\s+(\w+)\s+0xc\(%edx\)").Select(m => m.Groups[1].Value).ToList();
        Assert.True(reads.Count == 2 && reads.All(f => f == "mmap_checksum"), gdb + stub);
        // Any access: back to the store that set the length, then forward just past it.
        Assert.Contains("Hardware access (read/write) watchpoint 3: boot_info->mmap[1].length", gdb);
        var pcs = Regex.Matches(gdb, @"=> 0x([0-9a-f]+) <kmain\+\d+>:\s+(.*)").Select(m => (Pc: Convert.ToUInt64(m.Groups[1].Value, 16), Text: m.Groups[2].Value)).ToList();
        Assert.True(pcs.Count == 2, gdb + stub);
        Assert.Matches(@"^mov\s+%eax,0x[0-9a-f]+", pcs[0].Text); // the store, not yet executed
        Assert.True(pcs[1].Pc > pcs[0].Pc, gdb);                   // continue: just after it
        Assert.Matches(@"Value = \d+\s+0x[0-9a-f]+ in build_boot_info", gdb);
    }

    [Theory, MemberData(nameof(Vmreplay.Backends), MemberType = typeof(Vmreplay))]
    public void ReverseStepiThenStepiReturnsToTheSameRegistersAcrossInterruptsAndPortIo(string cpu)
    {
        Vmreplay.RequireBackend(cpu);
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, cpu);
        // Stop in the timer handler's call chain, then walk back over the interrupt delivery
        // (into the interrupted loop) and forward again; puts' port I/O comes next.
        const int n = 40;
        var commands = new List<string> { "break log_tick", "continue", "delete", "info registers" };
        commands.AddRange(Enumerable.Repeat("reverse-stepi", n));
        commands.Add("info registers");
        commands.Add("print/x $pc");
        commands.AddRange(Enumerable.Repeat("stepi", n));
        commands.Add("info registers");
        commands.AddRange(["break putc", "continue", "delete", "stepi 6", "info registers"]);
        commands.AddRange(Enumerable.Repeat("reverse-stepi", 6));
        commands.AddRange(Enumerable.Repeat("stepi", 6));
        commands.Add("info registers");
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false, commands.ToArray());
        var dumps = RegisterDumps(gdb);
        Assert.True(dumps.Count == 5, $"expected 5 register dumps, got {dumps.Count}:\n{gdb}\n{stub}");
        Assert.Equal(dumps[0], dumps[2]);
        Assert.NotEqual(dumps[0], dumps[1]);
        // 40 instructions before log_tick lie before the interrupt was delivered: outside the handler.
        var back = Convert.ToUInt64(Regex.Match(gdb, @"\$1 = 0x([0-9a-f]+)").Groups[1].Value, 16);
        bool inHandler = back >= ElfSymbols.Address(elf, "irq0_entry") && back < ElfSymbols.Address(elf, "irq0_entry") + 13
                         || back >= ElfSymbols.Address(elf, "log_tick") && back < ElfSymbols.Address(elf, "kmain");
        Assert.False(inHandler, $"reverse-stepi ended at {back:x}, inside the handler still:\n{gdb}");
        Assert.Equal(dumps[3], dumps[4]);
    }

    [Fact]
    public void A64BitGuestIsDebuggableAsTyped()
    {
        string elf = Vmreplay.Guest("hello64", "hello64.elf");
        string trace = Record("hello64", "hello64.elf", 1);
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false, "info registers rip", "stepi", "stepi", "reverse-stepi", "info registers rip",
            "reverse-stepi", "reverse-stepi", "monitor help", "monitor devices", "monitor device com1 json", "continue");
        Assert.DoesNotContain("too long", gdb);
        Assert.Matches(@"rip\s+0x[0-9a-f]+", gdb);
        Assert.Contains("No more reverse-execution history", gdb);
        Assert.Contains("vmreplay monitor commands", gdb);
        // The readable form by default, the snapshot's JSON when asked for.
        Assert.Contains("Com1: 16550A at 0x3f8, IRQ 4", gdb);
        Assert.Matches(@"ch0: mode \d \(", gdb);
        Assert.Contains("Com1: {\"Dll\":", gdb);
        Assert.True(gdb.Contains("No more reverse-execution history") && Regex.Matches(gdb, "No more reverse-execution history").Count >= 2, gdb + stub);
    }

    [Theory, MemberData(nameof(Vmreplay.Backends), MemberType = typeof(Vmreplay))]
    public void AMultiboot32BitImageThatEntersLongModeIsDebuggedWith64BitRegisters(string cpu)
    {
        // timer64 boots from a 32-bit ELF and runs its interrupt handler in long mode (on KVM here
        // the VMM emulates its iretq). The stub serves 64-bit registers and says gdb needs the architecture.
        Vmreplay.RequireBackend(cpu);
        string elf = Vmreplay.Guest("timer64", "timer64.elf");
        string trace = Record("timer64", "timer64.elf", 1, cpu);
        ulong handler = ElfSymbols.Address(elf, "irq0_handler64"), ticks = ElfSymbols.Address(elf, "ticks");
        const int n = 12;
        var commands = new List<string>
        {
            "break irq0_handler64", "continue", "continue", "continue", "delete", "print/x $pc", "x/i $pc", "print $r8",
            $"watch *(int*)0x{ticks:x}", "reverse-continue", "print/x $pc", "delete", "info registers",
        };
        commands.AddRange(Enumerable.Repeat("reverse-stepi", n));
        commands.Add("x/i $pc");
        commands.AddRange(Enumerable.Repeat("stepi", n));
        commands.Add("info registers");
        var (gdb, stub) = Debug(trace, elf, setArchitecture: true, commands.ToArray());
        Assert.Contains("-ex 'set architecture i386:x86-64' -ex 'target remote", stub);
        Assert.Equal(3, Regex.Matches(gdb, @"Breakpoint 1, irq0_handler64").Count);
        var pcs = Regex.Matches(gdb, @"\$\d+ = 0x([0-9a-f]+)").Select(m => Convert.ToUInt64(m.Groups[1].Value, 16)).ToList();
        Assert.True(pcs.Count == 2, gdb + stub);
        Assert.Equal(handler, pcs[0]);
        Assert.Matches(@"=> 0x[0-9a-f]+ <irq0_handler64>:\s+push\s+%rax", gdb);
        Assert.Matches(@"\$\d+ = 0\n", gdb); // r8 exists: a 64-bit register set
        // Going back to the third tick's write: gdb shows the count before and after, in reverse.
        var change = Regex.Match(gdb, @"Old value = (\d+)\s+New value = (\d+)");
        Assert.True(change.Success, gdb + stub);
        Assert.Equal(long.Parse(change.Groups[1].Value) - 1, long.Parse(change.Groups[2].Value));
        Assert.Equal(handler + 1, pcs[1]); // stopped before `incl ticks(%rip)`
        var dumps = RegisterDumps(gdb);
        Assert.True(dumps.Count == 2, gdb + stub);
        Assert.Matches(@"efer\s+0x5[0-9a-f]{2}\s", dumps[0]); // LMA and LME
        // On the software CPU, with 100,000 instructions of polling between ticks, the walk back
        // stays in the polling loop. On KVM where the ticks fall depends on the host's speed when
        // recording: on a loaded paravirtual host they come faster than its emulated CPL0 code
        // runs, and the walk crosses the previous handler's (VMM-emulated) iretq instead.
        if (cpu == "kvm") Assert.Matches("iretq|poll", gdb);
        else Assert.Contains("poll", gdb);
        Assert.Equal(dumps[0], dumps[1]);
    }

    [Fact]
    public void CtrlCWhileContinuingStopsTheReplayAndTheSessionGoesOn()
    {
        // gdb -batch cannot type Ctrl-C, so a client speaks the protocol itself: continue, then
        // 0x03 while the replay runs, as gdb does on Ctrl-C. ticks n=1000 lasts a second of guest
        // time on KVM and 100M instructions on the software CPU: either way its replay takes
        // several times the 250 ms before the interrupt (the 200,000 port writes used before
        // now replay on the software CPU in less than the 300 ms the test waited). 100 ms was too
        // short at the other end: the stub's first run JIT-compiles the software CPU's handlers
        // (a Debug build, 0.9 s for the whole replay), and the interrupt sometimes landed before
        // the first event or at the first timer interrupt's delivery, 0.1 % into the replay.
        string trace = RecordTicks1000(cpu: null);
        long events;
        using (var reader = TraceReader.Open(trace)) events = reader.Events().LongCount();
        var (started, port, stubErr) = StartStub(trace);
        using var stub = started;
        Assert.Contains($"-ex 'target remote 127.0.0.1:{port}'", stubErr.ToString());
        using var client = AttachClient(port, receiveTimeoutMs: 60_000);
        var stream = client.GetStream();
        Send(stream, "c");
        Thread.Sleep(250); // mid-run; any natural stop before the end is right
        stream.WriteByte(0x03);
        string stop = ReadPacket(stream);
        Assert.StartsWith("T02", stop);
        // Stopped part-way: a position, and stepping on from it works.
        string when = Monitor(stream, "when");
        // By event and offset on KVM; on the software CPU by instruction count (with the
        // interrupt deliveries made there, when the stop follows one), with the event.
        var at = Regex.Match(when, @"at (?:event (\d+) \+ \d+ instructions|instruction \d+(?:\+\d+ \(\d+ interrupt deliver(?:y|ies) made there\))?, event (\d+))");
        Assert.True(at.Success, when);
        Assert.InRange(long.Parse(at.Groups[1].Success ? at.Groups[1].Value : at.Groups[2].Value), 1, events - 2); // before the end
        StepBothWaysThenKill(stream, when, stub, stubErr);
    }

    [Fact]
    public void OnTheSoftwareCpuCtrlCWhileReverseContinuingStopsTheScanWhereEverythingAfterWasSearched()
    {
        // ticks n=1000 runs ~100M instructions: a reverse-continue from its end with a breakpoint
        // that never hits scans back snapshot by snapshot to the start (seconds). Ctrl-C during
        // the scan stops it at a snapshot boundary, with gdb's SIGINT stop, and the session goes on.
        // The breakpoint lies inside an instruction of the poll loop, which runs in every
        // interval: no interval can be passed over (a breakpoint on a page nothing runs would
        // reach the start at once).
        var (started, port, stubErr) = StartStub(RecordTicks1000(cpu: "soft"));
        using var stub = started;
        using var client = AttachClient(port, receiveTimeoutMs: 120_000);
        var stream = client.GetStream();
        Assert.Contains("replaylog:end", Exchange(stream, "c"));
        string last = Monitor(stream, "when");
        long endCount = long.Parse(Regex.Match(last, @"at instruction (\d+)").Groups[1].Value);
        ulong insidePoll = ElfSymbols.Address(Vmreplay.Guest("ticks", "ticks.elf"), "poll") + 1; // within its first, 5-byte mov
        Assert.Equal("OK", Exchange(stream, $"Z0,{insidePoll:x},1"));
        Send(stream, "bc");
        Thread.Sleep(300);
        stream.WriteByte(0x03);
        string stop = ReadPacket(stream);
        Assert.StartsWith("T02", stop);
        string when = Monitor(stream, "when");
        long at = long.Parse(Regex.Match(when, @"at instruction (\d+)").Groups[1].Value);
        Assert.InRange(at, 1, endCount - 1);
        StepBothWaysThenKill(stream, when, stub, stubErr);
    }

    // ticks n=1000: a second of guest time on KVM, about 100M instructions on the software CPU.
    private string RecordTicks1000(string? cpu)
    {
        string trace = Path.Combine(_dir, "ticks.vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("ticks", "ticks.elf"), "--cmdline", "n=1000", "-o", trace, "--serial-in", "/dev/null"], cpu: cpu, timeoutSeconds: 300);
        Assert.True(File.Exists(trace), r.Stderr);
        return trace;
    }

    // A protocol client on the stub, out of acknowledgement mode as gdb puts it.
    private static TcpClient AttachClient(int port, int receiveTimeoutMs)
    {
        var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        client.ReceiveTimeout = receiveTimeoutMs;
        Assert.Equal("OK", Exchange(client.GetStream(), "QStartNoAckMode", acked: true));
        return client;
    }

    // After an interrupted motion: stepping on works both ways and comes back to `when`; then kill ends the stub.
    private static void StepBothWaysThenKill(NetworkStream stream, string when, Process stub, System.Text.StringBuilder stubErr)
    {
        AssertStepStops(stream, "s");
        AssertStepStops(stream, "bs");
        Assert.Equal(when, Monitor(stream, "when"));
        Send(stream, "k");
        Assert.True(stub.WaitForExit(30_000), stubErr.ToString());
        Assert.Equal(0, stub.ExitCode);
    }

    [Fact]
    public void OnTheSoftwareCpuFiveBreakpointsHoldAtOnceForwardAndBackward()
    {
        // No debug registers to run out of: the processor checks every breakpoint itself. Five at
        // once; twelve continues hit them in program order (the timer's handler and log_tick at
        // every tick, then the boot_info code), and eleven reverse-continues hit the same stops,
        // arguments and all, in reverse.
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, "soft");
        string[] functions = ["timer_interrupt", "log_tick", "build_boot_info", "mmap_checksum", "panic"];
        var commands = functions.Select(f => $"break {f}").ToList();
        commands.AddRange(Enumerable.Repeat("continue", 12));
        commands.AddRange(Enumerable.Repeat("reverse-continue", 11));
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false, commands.ToArray());
        Assert.DoesNotContain("at most", gdb + stub);
        Assert.DoesNotContain("Could not insert", gdb);
        Assert.DoesNotContain("SIGTRAP", gdb);
        Assert.Equal(5, Regex.Matches(gdb, @"^Breakpoint \d+ at 0x", RegexOptions.Multiline).Count);
        var hits = Regex.Matches(gdb, @"^Breakpoint (\d+), (\w+ \(.*)$", RegexOptions.Multiline).Select(m => m.Groups[0].Value).ToList();
        Assert.True(hits.Count == 23, gdb + stub);
        var forward = hits.Take(12).ToList();
        var backward = hits.Skip(12).ToList();
        Assert.Equal(forward.Take(11).Reverse(), backward);
        var hitFunctions = forward.Select(h => Regex.Match(h, @", (\w+) \(").Groups[1].Value).Distinct().ToList();
        Assert.True(hitFunctions.Count >= 4, string.Join("\n", forward));
    }

    [Fact]
    public void OnTheSoftwareCpuStepiOntoTheCorruptingStoreReportsTheWatchpoint()
    {
        // Back to the store that corrupts the length, then one stepi forward executes it: gdb
        // reports the watchpoint with its old and new value, not a plain step. (On KVM a step
        // that changes a watched value is a plain step.)
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, "soft");
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break panic", "continue", "delete", "watch boot_info->mmap[1].length", "reverse-continue", "x/i $pc", "stepi", "x/i $pc");
        var changes = Regex.Matches(gdb, @"Hardware watchpoint 2: boot_info->mmap\[1\]\.length\s+Old value = (\d+)\s+New value = (\d+)").ToList();
        Assert.True(changes.Count == 2, gdb + stub);
        // In reverse the value goes from the corrupt one back; the step makes it corrupt again.
        Assert.Equal(changes[0].Groups[1].Value, changes[1].Groups[2].Value);
        Assert.Equal(changes[0].Groups[2].Value, changes[1].Groups[1].Value);
        var pcs = Regex.Matches(gdb, @"=> 0x([0-9a-f]+) <log_tick\+\d+>:\s+(\S+)").Select(m => (Pc: Convert.ToUInt64(m.Groups[1].Value, 16), Op: m.Groups[2].Value)).ToList();
        Assert.True(pcs.Count == 2, gdb + stub);
        Assert.Equal("mov", pcs[0].Op);
        Assert.True(pcs[1].Pc > pcs[0].Pc, gdb);
    }

    [Fact]
    public void OnTheSoftwareCpuWatchRwatchAndAwatchStopForwardJustAfterWhereTheyStoppedBackward()
    {
        // From the panic: two changes of the length back, then forward over both again; the
        // validation's read back and forward; any access back and forward. Backward stops are
        // before the accessing instruction, forward ones just after it: the same instruction.
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, "soft");
        const string field = "boot_info->mmap[1].length";
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break panic", "continue", "delete",
            $"watch {field}", "reverse-continue", "print/x $pc", "reverse-continue", "print/x $pc", "continue", "print/x $pc", "continue", "print/x $pc", "delete",
            $"rwatch {field}", "reverse-continue", "print/x $pc", "continue", "print/x $pc", "delete",
            $"awatch {field}", "reverse-continue", "print/x $pc", "continue", "print/x $pc");
        Assert.DoesNotContain("SIGTRAP", gdb);
        var pcs = Regex.Matches(gdb, @"\$\d+ = 0x([0-9a-f]+)").Select(m => Convert.ToUInt64(m.Groups[1].Value, 16)).ToList();
        Assert.True(pcs.Count == 8, gdb + stub);
        // watch: back to X, back to Y, forward just after Y, forward just after X.
        Assert.InRange(pcs[2] - pcs[1], 1UL, 15UL);
        Assert.InRange(pcs[3] - pcs[0], 1UL, 15UL);
        var changes = Regex.Matches(gdb, @"Old value = (\d+)\s+New value = (\d+)").Select(m => (Old: m.Groups[1].Value, New: m.Groups[2].Value)).ToList();
        Assert.True(changes.Count == 4, gdb + stub);
        Assert.Equal((changes[1].New, changes[1].Old), changes[2]); // forward over Y undoes the reverse step over it
        Assert.Equal((changes[0].New, changes[0].Old), changes[3]);
        // rwatch and awatch: forward stops just after the instruction the reverse one stopped before.
        Assert.Contains("Hardware read watchpoint", gdb);
        Assert.Contains("Hardware access (read/write) watchpoint", gdb);
        Assert.InRange(pcs[5] - pcs[4], 1UL, 15UL);
        Assert.InRange(pcs[7] - pcs[6], 1UL, 15UL);
    }

    [Fact]
    public void OnTheSoftwareCpuMonitorWhenAndGotoSpeakInstructionCounts()
    {
        // monitor when names the instruction count; goto takes one, back or forward, and lands
        // on the same registers as the motion that got there first.
        string elf = Vmreplay.Guest("failing-boot", "failing-boot.elf");
        string trace = Record("failing-boot", "failing-boot.elf", 3, "soft");
        var (first, _) = Debug(trace, elf, setArchitecture: false, "break log_tick", "continue", "monitor when");
        long n = long.Parse(Regex.Match(first, @"at instruction (\d+), event").Groups[1].Value);
        Assert.True(n > 1000, first);
        var (gdb, stub) = Debug(trace, elf, setArchitecture: false,
            "break log_tick", "continue", "delete", "info registers", "stepi 5", "monitor when",
            $"monitor goto {n - 1000}", "flushregs", "monitor when", "info registers",
            $"monitor goto {n}", "flushregs", "monitor when", "info registers", "monitor goto x");
        var whens = Regex.Matches(gdb, @"at instruction (\d+), event").Select(m => long.Parse(m.Groups[1].Value)).ToList();
        // when, goto's own report and when again, for each goto.
        Assert.True(whens.Count == 5, gdb + stub);
        Assert.Equal([n + 5, n - 1000, n - 1000, n, n], whens);
        var dumps = RegisterDumps(gdb);
        Assert.True(dumps.Count == 3, gdb + stub);
        Assert.NotEqual(dumps[0], dumps[1]);
        Assert.Equal(dumps[0], dumps[2]);
        Assert.Contains("usage: monitor goto INSTRUCTIONS", gdb);
    }

    private static void Send(NetworkStream stream, string payload)
    {
        int sum = payload.Sum(c => c) & 0xFF;
        stream.Write(System.Text.Encoding.ASCII.GetBytes($"${payload}#{sum:x2}"));
    }

    private static string Exchange(NetworkStream stream, string payload, bool acked = false)
    {
        Send(stream, payload);
        if (acked) Assert.Equal('+', (char)stream.ReadByte());
        return ReadPacket(stream);
    }

    private static string ReadPacket(NetworkStream stream)
    {
        int b;
        while ((b = stream.ReadByte()) != '$') Assert.NotEqual(-1, b);
        var payload = new System.Text.StringBuilder();
        while ((b = stream.ReadByte()) != '#')
        {
            Assert.NotEqual(-1, b);
            // The stub run-length encodes replies as gdbserver does ("0*%" is eight zeros): a
            // monitor reply in hex has runs whenever its text repeats a digit.
            if (b == '*') payload.Append(payload[^1], stream.ReadByte() - 29);
            else payload.Append((char)b);
        }
        stream.ReadByte();
        stream.ReadByte();
        return payload.ToString();
    }

    // A step that ends in a SIGTRAP stop; what the stub wrote on gdb's console before it (the
    // reason a motion stopped early) is in the failure message.
    private static void AssertStepStops(NetworkStream stream, string step)
    {
        Send(stream, step);
        var console = new System.Text.StringBuilder();
        string reply;
        while ((reply = ReadPacket(stream)).StartsWith('O') && reply != "OK")
            console.Append(System.Text.Encoding.ASCII.GetString(Convert.FromHexString(reply[1..])));
        Assert.True(reply.StartsWith("T05") && console.Length == 0, $"'{step}' stopped with {reply}, console: {console}");
    }

    private static string Monitor(NetworkStream stream, string command)
    {
        Send(stream, "qRcmd," + Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(command)).ToLowerInvariant());
        var text = new System.Text.StringBuilder();
        while (true)
        {
            string reply = ReadPacket(stream);
            if (reply == "OK") return text.ToString();
            Assert.StartsWith("O", reply);
            text.Append(System.Text.Encoding.ASCII.GetString(Convert.FromHexString(reply[1..])));
        }
    }
}
