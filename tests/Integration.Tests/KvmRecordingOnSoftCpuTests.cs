using System.Text.RegularExpressions;
using VmReplay.Recorder;

namespace VmReplay.Integration.Tests;

/// <summary>
/// KVM recordings debugged on the software CPU, on any host: traces recorded on a paravirtual
/// KVM host (kvm_pvm, 2026-12-04), where KVM's emulator could not execute IRET and the VMM
/// emulated each one as an exit, and where the host processor (AMD) set flags the SDM leaves
/// undefined differently from the software CPU. Kept in the repository because most of our
/// machines have no KVM to make new ones.
/// </summary>
public sealed class KvmRecordingOnSoftCpuTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-kvm-on-soft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string guest) =>
        Path.Combine(Vmreplay.RepoRoot, "tests", "Recorder.Tests", "Fixtures", $"{guest}-kvm-pvm.vmtrace");

    // The guest the trace was recorded with, from the trace itself: gdb's symbols must be that
    // build's, not whatever this host's compiler makes of the sources today.
    private string Elf(string guest)
    {
        string elf = Path.Combine(_dir, guest + ".elf");
        using var trace = TraceReader.Open(Fixture(guest));
        File.WriteAllBytes(elf, trace.Image);
        return elf;
    }


    [Theory]
    [InlineData("failing-boot", 3, "PANIC: boot_info corrupted")]
    [InlineData("timer", 1, "timer: 100 ticks")]
    [InlineData("timer64", 1, "timer64: 100 ticks")]
    public void ReplaysToItsEndWithItsEmulatedIretExitsAndTheRecordedUndefinedFlags(string guest, int status, string output)
    {
        var r = Vmreplay.Run(["replay", Fixture(guest), "--cpu", "soft"]);
        Assert.True(r.ExitCode == status, r.Stderr);
        Assert.StartsWith("soft", r.Cpu);
        Assert.Contains(output, r.Stdout);
        Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots", r.Stderr);
        // AMD sets AF after a shift where the software CPU clears it: named, never silent.
        Assert.Matches(@"flags that say nothing of the guest's path \(AF, .*\) differed from the recording processor's at \d+ points? \(first .*RFLAGS [0-9a-f]+ recorded, [0-9a-f]+ now\)", r.Stderr);
        // --strict takes no flags but the recorded processor's own.
        var strict = Vmreplay.Run(["replay", Fixture(guest), "--cpu", "soft", "--strict"]);
        Assert.True(strict.ExitCode == 4, strict.Stderr);
        Assert.Contains("rflags", strict.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A Linux boot recorded on KVM (the bzImage with its KVM command line, --snapshot-every off:
    /// 1.7 MB) replays on the software CPU to its panic and reset with the serial log the
    /// recording wrote: every MSR the kernel read exited (HEAD.MsrExits), the CPUID leaves this
    /// KVM answered itself (1, 7, 0xD) come from HEAD.CpuidSeen, and RDTSC's values reach
    /// memory only as data.
    /// </summary>
    [Fact]
    public void ALinuxBootRecordedOnKvmReplaysToItsPanicWithTheRecordedSerialLog()
    {
        var r = Vmreplay.Run(["replay", Fixture("linux-bzimage"), "--cpu", "soft"], timeoutSeconds: 300);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith("soft", r.Cpu);
        Assert.Equal(File.ReadAllText(Path.ChangeExtension(Fixture("linux-bzimage"), ".serial")), r.Stdout);
        Assert.Contains("Kernel panic - not syncing: No working init found", r.Stdout);
        Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots", r.Stderr);
        Assert.Contains("guest memory differed from the recording in data only", r.Stderr);
    }

    /// <summary>
    /// gdb on the Linux boot recorded on KVM, replayed on the software CPU, by address alone
    /// (the fixture's kernel's System.map; the vmlinux a fresh machine builds may differ): the
    /// panic, one instruction back onto kernel_init's call of it and forward again, and back to
    /// the last init the kernel tried.
    /// </summary>
    [Fact]
    public void GdbGoesBackFromTheLinuxPanicRecordedOnKvmByAddress()
    {
        const ulong Panic = 0xffffffff810eb71c, KernelInit = 0xffffffff810ee910, KernelInitEnd = 0xffffffff810eea02, TryToRunInit = 0xffffffff810ea9e6;
        var (gdb, stub) = GdbDriver.DebugOn("soft", Fixture("linux-bzimage"), elf: null, setArchitecture: true,
            $"break *0x{Panic:x}", "continue", "reverse-stepi", "p/x $pc", "x/i $pc", "stepi", "p/x $pc",
            "delete", $"break *0x{TryToRunInit:x}", "reverse-continue", "x/s $rdi", "monitor when");
        Assert.Contains($"Breakpoint 1, 0x{Panic:x16} in ?? ()", gdb);
        ulong caller = Convert.ToUInt64(Regex.Match(gdb, @"\$1 = 0x([0-9a-f]+)").Groups[1].Value, 16);
        Assert.InRange(caller, KernelInit, KernelInitEnd - 1);
        Assert.Matches($@"=> 0x{caller:x}:\s+call\s+0x{Panic:x}", gdb);
        Assert.Contains($"$2 = 0x{Panic:x}", gdb);
        Assert.Contains($"Breakpoint 2, 0x{TryToRunInit:x16} in ?? ()", gdb);
        Assert.Matches(@"0x[0-9a-f]+:\s+""/bin/sh""", gdb);
        Assert.Matches(@"at event \d+ \+ \d+ instructions", gdb);
        Assert.DoesNotContain("diverged", stub);
    }

    /// <summary>
    /// KVM ends a triple fault with RF set in RFLAGS, the software CPU with it clear: the end's
    /// register hash matches with that flag named; --strict takes only the recorded flags.
    /// </summary>
    [Fact]
    public void ATripleFaultEndsAsRecordedWithTheResumeFlagNamed()
    {
        var r = Vmreplay.Run(["replay", Fixture("triplefault"), "--cpu", "soft"]);
        Assert.True(r.ExitCode == 2, r.Stderr);
        Assert.Contains("triplefault: about to fault with no IDT", r.Stdout);
        Assert.Contains("triple fault (shutdown) at RIP 100027", r.Stderr);
        Assert.Matches(@"replay matched \d+ events, \d+ exits", r.Stderr);
        Assert.Matches(@"differed from the recording processor's at 1 point \(first the end of the run \(RFLAGS 46 now\)\)", r.Stderr);
        var strict = Vmreplay.Run(["replay", Fixture("triplefault"), "--cpu", "soft", "--strict"]);
        Assert.True(strict.ExitCode == 4, strict.Stderr);
        Assert.Contains("expected final register hash", strict.Stderr);
    }

    /// <summary>info says what a replay on the other backend depends on: these were recorded before every MSR exited.</summary>
    [Fact]
    public void InfoNamesTheBackendAndTheMsrsKvmAnsweredItself()
    {
        var r = Vmreplay.Run(["info", Fixture("timer"), "--json"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("\"backend\": \"kvm\"", r.Stdout);
        Assert.Contains("\"clock\": \"host\"", r.Stdout);
        Assert.Contains("\"msrExits\": null", r.Stdout);
        var table = Vmreplay.Run(["info", Fixture("timer")]);
        Assert.Contains("recorded on kvm, host clock", table.Stdout);
    }

    [Fact]
    public void AnExitTheSoftwareCpuNeverMakesIsADivergenceNotAHang()
    {
        // timer's first emulated IRET turned into a port write nobody makes: the software CPU
        // returns from the handler into a loop that polls memory without exits, and the
        // recording's next event (that write) never comes.
        string trace = Path.Combine(_dir, "timer-unreachable.vmtrace");
        long at = TraceRewriting.FirstEvent(Fixture("timer"), trace, e => e is Recorder.Events.ExitEvent { Reason: (uint)Recorder.Events.ExitReason.InternalError } x
            ? x with { Reason = (uint)Recorder.Events.ExitReason.Io, Address = 0x99, Size = 1, Flags = Recorder.Events.ExitEvent.FlagWrite, Count = 1, Data = [0x42] } : null);
        Assert.True(at > 0);
        var r = Vmreplay.Run(["replay", trace, "--cpu", "soft"], timeoutSeconds: 300);
        Assert.True(r.ExitCode == 4, r.Stderr);
        Assert.Contains($"replay diverged at event {at}: expected exit Io out port 0099", r.Stderr);
        Assert.Contains("got 1,000,000,000 instructions on the software CPU without it", r.Stderr);
    }

    [Fact]
    public void GdbGoesBackFromThePanicToTheCorruptingStoreAndStepsAcrossInterruptsBothWays()
    {
        string elf = Elf("failing-boot");
        const int n = 40;
        var commands = new List<string>
        {
            "break panic", "continue", "watch boot_info->mmap[1].length", "reverse-continue", "print/x $pc", "x/i $pc",
            "delete", "break log_tick", "continue", "delete", "info registers",
        };
        commands.AddRange(Enumerable.Repeat("reverse-stepi", n));
        commands.Add("info registers");
        commands.AddRange(Enumerable.Repeat("stepi", n));
        commands.Add("info registers");
        var (gdb, stub) = GdbDriver.DebugOn("soft", Fixture("failing-boot"), elf, setArchitecture: false, commands.ToArray());
        Assert.Contains("vmreplay: cpu: soft", stub);
        Assert.Contains("Breakpoint 1, panic", gdb);
        Assert.Matches(@"Old value = (\d+)\s+New value = (\d+)", gdb);
        Assert.Matches(@"=> 0x[0-9a-f]+ <log_tick\+\d+>:\s+mov\s+%ecx,\(%ebx\)", gdb);
        ulong pc = Convert.ToUInt64(Regex.Match(gdb, @"\$1 = 0x([0-9a-f]+)").Groups[1].Value, 16);
        Assert.InRange(pc, ElfSymbols.Address(elf, "log_tick"), ElfSymbols.Address(elf, "timer_interrupt") - 1);
        // Forty instructions back from log_tick cross the timer interrupt's delivery (a forced
        // point of the recording); forty forward come back to the same registers.
        var dumps = Regex.Matches(gdb, @"^eax\s+0x[0-9a-f]+[\s\S]*?^gs\s+0x[0-9a-f]+\s+\d+", RegexOptions.Multiline).Select(m => m.Value).ToList();
        Assert.True(dumps.Count == 3, gdb + stub);
        Assert.NotEqual(dumps[0], dumps[1]);
        Assert.Equal(dumps[0], dumps[2]);
        Assert.DoesNotContain("diverged", stub);
    }

    [Fact]
    public void GdbStepsBackAcrossALongModeTimerInterruptAndForwardToTheSameRegisters()
    {
        string elf = Elf("timer64");
        const int n = 12;
        var commands = new List<string>
        {
            "break irq0_handler64", "continue", "continue", "continue", "delete", "info registers",
        };
        commands.AddRange(Enumerable.Repeat("reverse-stepi", n));
        commands.Add("x/i $pc");
        commands.AddRange(Enumerable.Repeat("stepi", n));
        commands.Add("info registers");
        var (gdb, stub) = GdbDriver.DebugOn("soft", Fixture("timer64"), elf, setArchitecture: true, commands.ToArray());
        Assert.Equal(3, Regex.Matches(gdb, @"Breakpoint 1, irq0_handler64").Count);
        Assert.Contains("poll", gdb);
        Assert.DoesNotContain("No more reverse-execution history", gdb);
        var dumps = Regex.Matches(gdb, @"^rax\s+0x[0-9a-f]+[\s\S]*?^efer\s+0x[0-9a-f]+\s+\d+", RegexOptions.Multiline).Select(m => m.Value).ToList();
        Assert.True(dumps.Count == 2, gdb + stub);
        Assert.Equal(dumps[0], dumps[1]);
        Assert.DoesNotContain("diverged", stub);
    }
}
