using System.CommandLine;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Emulation;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Replayer;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay replay</c>: re-executes a trace with no host input, reproducing the serial output
/// and exit status, checking every exit fingerprint and the final state. Exit status 4 and a
/// divergence report on the first mismatch.
/// </summary>
internal static class ReplayCommand
{
    internal const int DivergenceStatus = 4;

    public static Command Create()
    {
        var file = new Argument<string>("trace") { Description = "trace file (.vmtrace)" };
        var kvmPath = new Option<string>("--kvm") { Description = "KVM device to use", DefaultValueFactory = _ => MachineBackends.DefaultKvmDevice };
        var to = new Option<string?>("--to") { Description = "stop at EVENT or EVENT+INSTRUCTIONS and show the machine state there" };
        var toInstruction = new Option<string?>("--to-instruction")
        {
            Description = "software-CPU recordings: stop after COUNT retired instructions (COUNT+N: after the N-th interrupt delivered there), as gdb's 'monitor goto' does, and show the machine state there",
        };
        var fromStart = new Option<bool>("--from-start") { Description = "replay from the start instead of restoring snapshots" };
        var gdb = new Option<string?>("--gdb") { Description = "serve gdb's remote protocol on [HOST:]PORT (loopback unless a host is given) and wait for it at the start of the trace" };
        var gdbOnce = new Option<bool>("--gdb-once") { Description = "with --gdb: end when gdb disconnects instead of waiting for it to attach again" };
        var cpu = MachineOptions.CpuOption();
        var strict = new Option<bool>("--strict") { Description = "a difference in guest memory alone (values the VMM cannot record, such as RDTSC's) is a divergence too, instead of being reported and taken from the recording" };
        var command = new Command("replay", "replay a trace deterministically; exit status as recorded, 4 on divergence");
        command.Arguments.Add(file);
        command.Options.Add(kvmPath);
        command.Options.Add(cpu);
        command.Options.Add(to);
        command.Options.Add(toInstruction);
        command.Options.Add(fromStart);
        command.Options.Add(gdb);
        command.Options.Add(gdbOnce);
        command.Options.Add(strict);
        command.SetAction(r => Program.Guarded(() => r.GetValue(gdb) is { } endpoint
            ? GdbReplay.Serve(r.GetValue(file)!, r.GetValue(kvmPath)!, MachineOptions.ParseCpu(r.GetValue(cpu)!), endpoint, !r.GetValue(gdbOnce), r.GetValue(strict))
            : Replay(r.GetValue(file)!, r.GetValue(kvmPath)!, MachineOptions.ParseCpu(r.GetValue(cpu)!), r.GetValue(to), r.GetValue(toInstruction), r.GetValue(fromStart), r.GetValue(strict))));
        return command;
    }

    private static int Replay(string path, string kvmPath, CpuBackendChoice cpu, string? to, string? toInstruction, bool fromStart, bool strict)
    {
        if (to is not null && toInstruction is not null) throw new UserError("--to and --to-instruction: give one place to stop");
        ReplayPosition? target = to is null ? null : ParsePosition(to);
        InstructionPosition? instructionTarget = toInstruction is null ? null
            : InstructionPosition.TryParse(toInstruction) ?? throw new UserError($"--to-instruction: '{toInstruction}' is not an instruction count: give COUNT or COUNT+DELIVERIES (1200000, 1200000+1)");
        using var trace = TraceReader.Open(path);
        if (!trace.File.IsComplete)
            Console.Error.WriteLine($"vmreplay: {path} is incomplete ({trace.File.IncompleteReason}); replaying up to its last complete chunk");
        using var serialOutput = new SerialConsoleOutput();
        using var session = ReplaySession.Open(trace, kvmPath, serialOutput, cpu);
        Console.Error.WriteLine($"vmreplay: {RunCommand.DescribeBackend(session.Machine)}");
        session.UseSnapshots = !fromStart;
        session.Differences.Strict = strict;
        var sources = session.Sources;
        var pc = session.Machine;
        try
        {
            if (target is not null || instructionTarget is not null)
            {
                RunStop stop;
                if (instructionTarget is { } at)
                {
                    if (!session.CountsInstructions)
                        throw new UserError($"--to-instruction: {path} was recorded on {trace.Header.Backend} and replays on {Engine.Backend.CpuBackendNames.Name(pc.Backend.Kind)}; instruction counts name positions only in a software-CPU recording replayed on the software CPU (use --to EVENT[+INSTRUCTIONS])");
                    try { stop = session.SeekTo(at); }
                    catch (InvalidOperationException e) { throw new UserError($"--to-instruction: {e.Message}"); }
                }
                else stop = session.Seek(target!.Value);
                if (stop.End is { } ended) throw new UserError($"{path}: {ended.Message}");
                ReportPosition(session, trace.Version, byInstruction: instructionTarget is not null);
                if (session.Differences.Summary() is { } seen) Console.Error.WriteLine($"vmreplay: {seen}");
                return 0;
            }
            StartupStamp.WriteIfAsked();
            var outcome = session.RunToEnd();
            var end = sources.Events.Take<EndEvent>($"the end of the run ({outcome.Message})");
            if (end.Kind != outcome.Kind || end.ExitStatus != outcome.ExitStatus)
                throw new ReplayDivergenceException(sources.Events.Position - 1, end.Describe(), $"end: {outcome.Kind}, exit status {outcome.ExitStatus} ({outcome.Message})");
            var (regs, memory) = FinalState.Hash(pc.Backend, trace.Version);
            // A recording made on another backend may leave RIP one instruction on at the final
            // exit, and flags that say nothing of the guest's path otherwise (--strict: only RIP).
            if (regs != end.RegisterHash && trace.Header.Backend != Engine.Backend.CpuBackendNames.Name(pc.Backend.Kind))
            {
                if (FinalState.RegisterHashWithinOneInstruction(pc.Backend, end.RegisterHash)) regs = end.RegisterHash;
                else if (!strict && FinalState.RegisterHashWithinOneInstruction(pc.Backend, end.RegisterHash, UndefinedFlags.Mask))
                {
                    session.Differences.InUndefinedFlags($"the end of the run (RFLAGS {pc.Backend.Vcpus[0].ReadRegisters().Rflags:x} now)");
                    regs = end.RegisterHash;
                }
            }
            bool memoryOnly = regs == end.RegisterHash && memory != end.MemoryHash && !strict;
            if ((regs != end.RegisterHash || memory != end.MemoryHash) && !memoryOnly)
                throw new ReplayDivergenceException(sources.Events.Position - 1,
                    $"final register hash {end.RegisterHash:x16} and memory hash {end.MemoryHash:x16}",
                    $"register hash {regs:x16} and memory hash {memory:x16}");
            if (memoryOnly) session.Differences.AtTheEnd();
            RunCommand.Report(outcome);
            Console.Error.WriteLine($"vmreplay: replay matched {sources.Events.Position} events, {pc.ExitCount} exits and {session.Verifier.Verified} snapshots " +
                $"({sources.HostEvents?.DebugStops ?? 0} breakpoint stops to reach forced points)");
            if (session.Differences.Summary() is { } summary) Console.Error.WriteLine($"vmreplay: {summary}");
            return outcome.ExitStatus;
        }
        catch (RecordingExhaustedException e) when (!trace.File.IsComplete)
        {
            Console.Error.WriteLine($"vmreplay: replayed {e.EventIndex} events to the end of the incomplete recording with no divergence");
            return 0;
        }
        catch (Exception e) when (e is ReplayDivergenceException or RecordingExhaustedException)
        {
            ReportDivergence(e, pc, sources);
            if (session.Differences.Summary() is { } before) Console.Error.WriteLine($"  before it, {before}");
            return DivergenceStatus;
        }
        catch (HostLimitationException e)
        {
            throw new UserError(e.Message);
        }
    }

    /// <summary>"1200" (event 1200) or "1200+35" (35 instructions after it).</summary>
    internal static ReplayPosition ParsePosition(string text) =>
        ReplayPosition.TryParse(text)
        ?? throw new UserError($"--to: '{text}' is not a position: give an event index, optionally +instructions (1200, 1200+35)");

    /// <summary>The place reached, named as it was asked for: by instruction count, or by event and instructions after it.</summary>
    private static void ReportPosition(ReplaySession session, uint formatVersion, bool byInstruction)
    {
        var pc = session.Machine;
        var (regs, memory) = FinalState.Hash(pc.Backend, formatVersion);
        var err = Console.Error;
        // A count names the place exactly; the events consumed say where it lies in the recording.
        string where = byInstruction
            ? $"{session.At}, event {session.Sources.Events.Position} (after exit {pc.Counters.ExitCount}"
            : $"{session.Position} (after exit {pc.Counters.ExitCount}";
        err.WriteLine($"vmreplay: at {where}, {session.Restores} snapshot restores); state hash {regs:x16} {memory:x16}");
        WriteRegisters(err, pc);
        if (session.Sources.Events.Peek() is { } next) err.WriteLine($"  next event {session.Sources.Events.Position}: {next.Describe()}");
    }

    /// <summary>The stopped vCPU's main registers and the instruction at RIP, as both reports show them.</summary>
    private static void WriteRegisters(TextWriter err, PcMachine pc) => pc.Vcpu.WithState(s =>
    {
        var r = s.Regs;
        err.WriteLine($"  rip {r.Rip:x16}  rflags {r.Rflags:x8}  cs {s.Sregs.Cs.Selector:x4}  cr0 {s.Sregs.Cr0:x}");
        err.WriteLine($"  rax {r.Rax:x16}  rbx {r.Rbx:x16}  rcx {r.Rcx:x16}  rdx {r.Rdx:x16}");
        err.WriteLine($"  rsi {r.Rsi:x16}  rdi {r.Rdi:x16}  rsp {r.Rsp:x16}  rbp {r.Rbp:x16}");
        err.WriteLine($"  instruction at rip: {new InstructionEmulator().Disassemble(s, pc.Memory)}");
        return 0;
    });

    private static void ReportDivergence(Exception e, PcMachine pc, ReplaySources sources)
    {
        var err = Console.Error;
        err.WriteLine($"vmreplay: {e.Message}");
        WriteRegisters(err, pc);
        if (sources.HostEvents?.LastMismatch is { } mismatch)
            err.WriteLine($"  last breakpoint hit at the recorded point differed in: {mismatch}");
        err.WriteLine("  last events before it:");
        foreach (var (index, ev) in sources.Events.Recent) err.WriteLine($"    {index}: {ev.Describe()}");
    }
}
