using System.CommandLine;
using VmReplay.Cli.Commands;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Cli;

internal static class Program
{
    /// <summary>Exit status for a VMM error or a user mistake (bad file, missing /dev/kvm).</summary>
    internal const int VmmErrorStatus = 3;

    private static int Main(string[] args)
    {
        // A command that runs a guest builds the software CPU's tables on another core while it
        // reads its command line and builds the machine: bench-exits' run went 155 -> 135 ms.
        // A replay's first step reads the trace's header: the JSON reader is made ready there
        // first (the tables are needed only later, when the restored guest runs).
        if (args.Length > 0 && args[0] is "replay") SoftCpuTables.PrepareInBackground(first: () => VmReplay.Recorder.TraceHeader.WarmUp());
        else if (args.Length > 0 && args[0] is "run" or "record") SoftCpuTables.PrepareInBackground();
        FileSizeLimit.ReportInsteadOfDying();
        var root = new RootCommand("vmreplay: a record/replay virtual-machine monitor with a time-travel debugger, on Linux KVM or its own software x86 CPU");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(RecordCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(EventsCommand.Create());
        root.Subcommands.Add(DiffCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) Console.Error.WriteLine($"vmreplay: {e.Message}");
            Console.Error.WriteLine("vmreplay: see 'vmreplay --help'");
            return VmmErrorStatus;
        }
        return parsed.Invoke();
    }

    /// <summary>Runs a command body, turning user mistakes and host faults into one line and status 3.</summary>
    internal static int Guarded(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (OneLine(e) is { } line)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"vmreplay: {line}");
            return VmmErrorStatus;
        }
    }

    private static string? OneLine(Exception e) => e switch
    {
        UserError or Engine.Backend.BackendUnavailableException or Engine.Backend.HostLimitationException or Engine.Boot.GuestImageException or Recorder.Format.TraceFormatException => e.Message,
        Engine.Native.HostCallException => $"host error: {e.Message}",
        IOException or UnauthorizedAccessException or InsufficientMemoryException => e.Message,
        ArgumentException => e.Message,
        _ => null,
    };
}
