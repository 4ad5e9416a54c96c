using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;
using VmReplay.Devices.Platform;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench exits</c>: the cost of a port-I/O exit through vmreplay beside the same
/// guest under a minimal C KVM loop built on the spot, measured alternately in one run.
/// </summary>
internal static partial class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "benchmarks that print figures");
        var rounds = new Option<int>("--rounds") { Description = "alternating rounds of each side", DefaultValueFactory = _ => 3 };
        var exits = new Command("exits", "microseconds per port-I/O exit: vmreplay vs a minimal C KVM program, same guest (200,000 port writes)");
        exits.Options.Add(rounds);
        exits.SetAction(r => Program.Guarded(() => RunExits(Math.Max(1, r.GetValue(rounds)))));
        bench.Subcommands.Add(exits);
        var record = new Command("record", "record/replay costs side by side: run vs record vs replay of an exit-heavy guest, trace bytes per event, snapshot time and size per 64 MiB, seek time");
        record.Options.Add(rounds);
        var recordCpu = new Option<string>("--cpu")
        {
            Description = "CPU backend the commands run on: soft (default: the software CPU, where a position is an instruction count), kvm, or auto",
            DefaultValueFactory = _ => "soft",
        };
        record.Options.Add(recordCpu);
        record.SetAction(r => Program.Guarded(() => RecordReplayBench.Run(Math.Max(1, r.GetValue(rounds)), MachineOptions.ParseCpu(r.GetValue(recordCpu)!))));
        bench.Subcommands.Add(record);
        var debug = new Command("debug", "gdb latency against a replay: reverse-continue to a watchpoint hit across the whole failing-boot trace, reverse-stepi and stepi, with and without snapshots");
        debug.Options.Add(rounds);
        debug.SetAction(r => Program.Guarded(() => DebugBench.Run(Math.Max(1, r.GetValue(rounds)))));
        bench.Subcommands.Add(debug);
        var timeTravel = new Command("time-travel", "exact time travel on the software CPU beside its targets: run vs record vs replay of the exit-heavy guest and the Linux boot, trace bytes per event, reverse-stepi and reverse-continue in gdb on a 1M- and a 100M-instruction trace");
        timeTravel.Options.Add(rounds);
        timeTravel.SetAction(r => Program.Guarded(() => TimeTravelBench.Run(Math.Max(1, r.GetValue(rounds)))));
        bench.Subcommands.Add(timeTravel);
        var cpu = new Command("cpu", "software CPU speed in MIPS on a tight loop and an instruction mix, beside QEMU TCG (plain and -icount shift=0) on the same guests; startup of run --cpu soft");
        cpu.Options.Add(rounds);
        var seconds = new Option<double>("--seconds") { Description = "guest run time each measurement aims at", DefaultValueFactory = _ => 1.5 };
        var noQemu = new Option<bool>("--no-qemu") { Description = "leave out the QEMU rows (and installing QEMU)" };
        cpu.Options.Add(seconds);
        cpu.Options.Add(noQemu);
        cpu.SetAction(r => Program.Guarded(() => CpuBench.Run(Math.Max(1, r.GetValue(rounds)), Math.Clamp(r.GetValue(seconds), 0.01, 60), !r.GetValue(noQemu))));
        bench.Subcommands.Add(cpu);
        return bench;
    }

    private static int RunExits(int rounds)
    {
        string guest = RepositoryPaths.Require("guests", "build", "bench-exits", "bench-exits.bin");
        string cSource = RepositoryPaths.Require("guests", "bench-exits", "kvm-port-loop.c");
        string dir = Directory.CreateTempSubdirectory("vmreplay-bench-").FullName;
        try
        {
            string cBinary = Path.Combine(dir, "kvm-port-loop");
            RunProcess("gcc", ["-O2", "-o", cBinary, cSource]);
            byte[] image = File.ReadAllBytes(guest);
            var ours = new List<double>();
            var theirs = new List<double>();
            long exitCount = 0;
            for (int i = 0; i < rounds; i++)
            {
                var (us, count) = VmreplayMicrosecondsPerExit(image, guest);
                ours.Add(us);
                exitCount = count;
                theirs.Add(CMicrosecondsPerExit(cBinary, guest));
            }
            double oursMedian = Median(ours), theirsMedian = Median(theirs);
            var table = new Table().Title("port-I/O exit cost (median of alternating rounds)")
                .AddColumns("runner", "exits", "µs/exit (min / median / max)");
            table.AddRow("vmreplay", exitCount.ToString(CultureInfo.InvariantCulture), Format(ours));
            table.AddRow("minimal C KVM loop", "200000", Format(theirs));
            AnsiConsole.Write(table);
            Console.WriteLine(FormattableString.Invariant($"vmreplay_us_per_exit={oursMedian:F2} c_us_per_exit={theirsMedian:F2} ratio={oursMedian / theirsMedian:F2}"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (double Us, long Exits) VmreplayMicrosecondsPerExit(byte[] image, string source)
    {
        var options = new PcMachineOptions { SerialOutput = Stream.Null, SerialInputFile = "/dev/null" };
        using var pc = PcMachine.Create(options, image, source);
        var sw = Stopwatch.StartNew();
        var outcome = pc.Run();
        sw.Stop();
        if (outcome.ExitStatus != 1) throw new UserError($"bench guest ended unexpectedly: {outcome.Message}");
        return (sw.Elapsed.TotalMicroseconds / pc.ExitCount, pc.ExitCount);
    }

    private static double CMicrosecondsPerExit(string binary, string guest)
    {
        string output = RunProcess(binary, [guest]);
        var m = UsPerExit().Match(output);
        if (!m.Success) throw new UserError($"unexpected output from the C KVM loop: {output.Trim()}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    internal static string RunProcess(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new UserError($"cannot start {file}");
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new UserError($"{file} failed with status {p.ExitCode}: {error.Trim()}");
        return output;
    }

    internal static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    internal static string Format(List<double> xs) =>
        FormattableString.Invariant($"{xs.Min():F2} / {Median(xs):F2} / {xs.Max():F2}");

    [GeneratedRegex(@"us_per_exit=([0-9.]+)")]
    private static partial Regex UsPerExit();
}
