using System.CommandLine;
using Spectre.Console;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Run;
using VmReplay.Engine.SoftCpu;

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
            using var output = machine.OpenSerialOutput(r);
            options = options with { SerialOutput = output, TraceIo = r.GetValue(traceIo) };
            var profile = BackendProfile.Decide(ChooseBackend(options), options.KvmPath, options.VcpuCount);
            options = options with { Cpu = profile.Choice, Clock = machine.ResolveClock(r, profile.Kind) };
            using var pc = PcMachine.Create(options, image, source);
            Console.Error.WriteLine($"vmreplay: {profile.Describe()}");
            if (r.GetValue(traceExits))
            {
                pc.ExitObserver = TraceExit;
                if (pc.Backend is SoftMachine soft)
                    soft.SoftVcpus[0].Cpu.UnimplementedInstruction = what => Console.Error.WriteLine($"unimplemented vcpu0 {what}");
            }
            if (options.TraceIo || r.GetValue(traceExits)) WarnIfCpuModelNotApplied(pc);
            StartupStamp.WriteIfAsked();
            var outcome = pc.Run();
            output.Flush();
            if (options.TraceIo) PrintIoSummary(pc.Platform);
            Report(outcome);
            return outcome.ExitStatus;
        }));
        return command;
    }

    /// <summary>Prints how the run ended, on stderr, unless it was the guest's own orderly exit.</summary>
    internal static void Report(RunOutcome outcome)
    {
        if (outcome.Kind is RunOutcomeKind.DebugExit or RunOutcomeKind.PowerOff) return;
        Console.Error.WriteLine($"vmreplay: {outcome.Message}");
    }

    /// <summary>
    /// Warns on stderr when the guest sees CPUID features the CPU model hides (KVM hosts that
    /// ignore part of the model). Recording always checks, since what such a feature returns is
    /// not recorded; a plain run checks only when asked for diagnostics. The check only advises.
    /// </summary>
    internal static void WarnIfCpuModelNotApplied(PcMachine pc)
    {
        if (pc.Backend.CheckCpuModel() is { } warning) Console.Error.WriteLine($"vmreplay: warning: {warning}");
    }

    /// <summary>
    /// --max-instructions needs a backend that counts instructions: auto then means the software
    /// CPU, and --cpu kvm is refused.
    /// </summary>
    internal static CpuBackendChoice ChooseBackend(PcMachineOptions options)
    {
        if (options.MaxInstructions is null) return options.Cpu;
        if (options.Cpu == CpuBackendChoice.Kvm)
            throw new UserError("--max-instructions needs the software CPU (KVM does not count instructions): use --cpu soft or auto");
        return CpuBackendChoice.Soft;
    }

    /// <summary>The line that says which backend runs the guest.</summary>
    internal static string DescribeBackend(PcMachine pc) => pc.Backend.Kind == CpuBackendKind.Kvm
        ? "cpu: kvm"
        : pc.BackendNote is { } why ? $"cpu: soft (the software x86 CPU; KVM is not usable here: {why})" : "cpu: soft (the software x86 CPU)";

    private static void TraceExit(IVcpuBackend vcpu, VcpuExit exit)
    {
        string detail = exit.Kind switch
        {
            VcpuExitKind.PortIo => $"{(exit.IsWrite ? "out" : "in")} port {exit.Port:x4} size {exit.Size} count {exit.Count} data {Convert.ToHexString(exit.Data)}",
            VcpuExitKind.Mmio => $"{(exit.IsWrite ? "write" : "read")} {exit.Address:x} len {exit.Size} data {Convert.ToHexString(exit.Data)}",
            VcpuExitKind.MsrRead or VcpuExitKind.MsrWrite => $"msr {exit.MsrIndex:x} data {exit.MsrData:x}{(exit.MsrFailed ? " #GP" : "")}",
            _ => exit.Message ?? "",
        };
        Console.Error.WriteLine($"exit vcpu{vcpu.Id} {exit.Kind} {detail}");
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
