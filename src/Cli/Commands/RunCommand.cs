using System.CommandLine;
using Spectre.Console;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Cpu;
using VmReplay.Engine.Kvm;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;

namespace VmReplay.Cli.Commands;

/// <summary><c>vmreplay run</c>: boots a guest live, serial on stdout, exit status from the guest.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var machine = new MachineOptions();
        var traceExits = new Option<bool>("--trace-exits") { Description = "print every VM exit to stderr" };
        var traceIo = new Option<bool>("--trace-io") { Description = "print a summary of port I/O by port and device (unmapped ports included) to stderr" };
        var command = new Command("run", "boot a guest and run it; exit status: (v<<1)|1 after debug-exit, 0 power-off/halt, 2 triple fault, 3 VMM error");
        machine.AddTo(command);
        command.Options.Add(traceExits);
        command.Options.Add(traceIo);
        command.SetAction(r => Program.Guarded(() =>
        {
            var (options, image, source) = machine.Resolve(r);
            string? serialOut = r.GetValue(machine.SerialOut);
            using var output = serialOut is null ? Console.OpenStandardOutput() : OpenOutput(serialOut);
            options = options with { SerialOutput = output, TraceIo = r.GetValue(traceIo) };
            using var pc = PcMachine.Create(options, image, source);
            if (r.GetValue(traceExits)) pc.ExitObserver = TraceExit;
            if (options.TraceIo || r.GetValue(traceExits)) WarnIfCpuModelNotApplied(pc);
            var outcome = pc.Run();
            output.Flush();
            if (options.TraceIo) PrintIoSummary(pc.Platform);
            Report(outcome);
            return outcome.ExitStatus;
        }));
        return command;
    }

    private static Stream OpenOutput(string path)
    {
        try { return File.Create(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"--serial-out {path}: cannot create: {e.Message}");
        }
    }

    /// <summary>Prints how the run ended, on stderr, unless it was the guest's own orderly exit.</summary>
    internal static void Report(RunOutcome outcome)
    {
        if (outcome.Kind is RunOutcomeKind.DebugExit or RunOutcomeKind.PowerOff) return;
        Console.Error.WriteLine($"vmreplay: {outcome.Message}");
    }

    /// <summary>
    /// Warns on stderr when this host's KVM lets the guest see CPUID features the CPU model hides.
    /// Recording always checks, since what such a feature returns is not recorded; a plain run
    /// checks only when asked for diagnostics, so that it stays quiet on such hosts.
    /// Called after the machine exists, so a missing /dev/kvm is reported first. The probe only
    /// advises: if it fails, the guest still runs.
    /// </summary>
    internal static void WarnIfCpuModelNotApplied(PcMachine pc)
    {
        CpuidProbeResult probe;
        try { probe = CpuidProbe.Run(pc.Vm.Kvm.System); }
        catch (KvmException e)
        {
            Console.Error.WriteLine($"vmreplay: warning: could not check the CPUID the guest sees: {e.Message}");
            return;
        }
        if (!probe.ModelApplied) Console.Error.WriteLine($"vmreplay: warning: {probe.Describe()}");
    }

    private static void TraceExit(Vcpu vcpu, KvmRun run)
    {
        string detail = run.ExitReason switch
        {
            KvmExitReason.Io => $"{(run.IoIsOut ? "out" : "in")} port {run.IoPort:x4} size {run.IoSize} count {run.IoCount} data {Convert.ToHexString(run.IoData)}",
            KvmExitReason.Mmio => $"{(run.MmioIsWrite ? "write" : "read")} {run.MmioAddress:x} len {run.MmioLength} data {Convert.ToHexString(run.MmioData)}",
            KvmExitReason.X86Rdmsr or KvmExitReason.X86Wrmsr => $"msr {run.MsrIndex:x} data {run.MsrData:x}{(run.MsrError ? " #GP" : "")}",
            _ => "",
        };
        Console.Error.WriteLine($"exit vcpu{vcpu.Id} {run.ExitReason} {detail}");
    }

    private static void PrintIoSummary(PcPlatform platform)
    {
        var table = new Table().Title("port I/O").AddColumns("port", "device", "reads", "writes");
        foreach (var (port, device, reads, writes) in platform.PortStatistics())
            table.AddRow($"{port:x4}", device ?? "[red]unmapped[/]", reads.ToString(), writes.ToString());
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Write(table);
    }
}
