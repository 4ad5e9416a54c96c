using System.CommandLine;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Kvm;
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
        var kvmPath = new Option<string>("--kvm") { Description = "KVM device to use", DefaultValueFactory = _ => KvmSystem.DefaultPath };
        var command = new Command("replay", "replay a trace deterministically; exit status as recorded, 4 on divergence");
        command.Arguments.Add(file);
        command.Options.Add(kvmPath);
        command.SetAction(r => Program.Guarded(() => Replay(r.GetValue(file)!, r.GetValue(kvmPath)!)));
        return command;
    }

    private static int Replay(string path, string kvmPath)
    {
        using var trace = TraceReader.Open(path);
        if (!trace.File.IsComplete)
            Console.Error.WriteLine($"vmreplay: {path} is incomplete ({trace.File.IncompleteReason}); replaying up to its last complete chunk");
        var h = trace.Header;
        var options = new PcMachineOptions
        {
            MemorySize = h.MemorySize, VcpuCount = h.VcpuCount, Cmdline = h.Cmdline, KvmPath = kvmPath,
            SerialOutput = Console.OpenStandardOutput(),
        };
        var sources = new ReplaySources(trace);
        using var pc = PcMachine.Create(options, trace.Image, h.GuestName, sources);
        try
        {
            var outcome = pc.Run();
            var end = sources.Events.Take<EndEvent>($"the end of the run ({outcome.Message})");
            if (end.Kind != outcome.Kind || end.ExitStatus != outcome.ExitStatus)
                throw new ReplayDivergenceException(sources.Events.Position - 1, end.Describe(), $"end: {outcome.Kind}, exit status {outcome.ExitStatus} ({outcome.Message})");
            var (regs, memory) = FinalState.Hash(pc.Vm);
            if (regs != end.RegisterHash || memory != end.MemoryHash)
                throw new ReplayDivergenceException(sources.Events.Position - 1,
                    $"final register hash {end.RegisterHash:x16} and memory hash {end.MemoryHash:x16}",
                    $"register hash {regs:x16} and memory hash {memory:x16}");
            RunCommand.Report(outcome);
            Console.Error.WriteLine($"vmreplay: replay matched {sources.Events.Position} events and {pc.ExitCount} exits " +
                $"({sources.HostEvents?.DebugStops ?? 0} breakpoint stops to reach forced points)");
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
            return DivergenceStatus;
        }
    }

    private static void ReportDivergence(Exception e, PcMachine pc, ReplaySources sources)
    {
        var err = Console.Error;
        err.WriteLine($"vmreplay: {e.Message}");
        pc.Vm.Vcpus[0].WithState(s =>
        {
            var r = s.Regs;
            err.WriteLine($"  rip {r.Rip:x16}  rflags {r.Rflags:x8}  cs {s.Sregs.Cs.Selector:x4}  cr0 {s.Sregs.Cr0:x}");
            err.WriteLine($"  rax {r.Rax:x16}  rbx {r.Rbx:x16}  rcx {r.Rcx:x16}  rdx {r.Rdx:x16}");
            err.WriteLine($"  rsi {r.Rsi:x16}  rdi {r.Rdi:x16}  rsp {r.Rsp:x16}  rbp {r.Rbp:x16}");
            err.WriteLine($"  instruction at rip: {new InstructionEmulator().Disassemble(s, pc.Vm.Memory)}");
        });
        if (sources.HostEvents?.LastMismatch is { } mismatch)
            err.WriteLine($"  last breakpoint hit at the recorded point differed in: {mismatch}");
        err.WriteLine("  last events before it:");
        foreach (var (index, ev) in sources.Events.Recent) err.WriteLine($"    {index}: {ev.Describe()}");
    }
}
