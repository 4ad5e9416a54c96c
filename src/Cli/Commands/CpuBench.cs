using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using VmReplay.Engine.SoftCpu;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay bench cpu</c>: the software CPU's speed in MIPS (guest instructions retired per
/// second of the guest's run) on a tight loop and on an instruction mix, beside QEMU's TCG plain
/// and with <c>-icount shift=0</c> on the same images, in alternating rounds; and the time
/// <c>vmreplay run --cpu soft</c> takes from process start to the guest's first instruction.
/// </summary>
/// <remarks>
/// The instruction counts are the software CPU's exact counts. QEMU is timed as a whole process,
/// so each QEMU figure is the difference between a run with N units of work and one with none
/// (its startup, firmware and the guest's fixed part cancel), credited with the instructions the
/// software CPU counts for N units: every unit retires the same number, checked exactly.
/// </remarks>
internal static class CpuBench
{
    private enum Runner { Soft, Tcg, TcgIcount }

    private sealed class Measured(CpuBenchGuest guest, byte[] image, long withNone, long fixedInstructions, long perUnit)
    {
        public CpuBenchGuest Guest { get; } = guest;
        public byte[] Image { get; } = image;
        /// <summary>Instructions with n=0, when the guest skips its work loop altogether.</summary>
        public long WithNone { get; } = withNone;
        /// <summary>The part of a run with work that is not per unit (serial set-up, parsing, entering the loop, printing).</summary>
        public long FixedInstructions { get; } = fixedInstructions;
        public long PerUnit { get; } = perUnit;

        /// <summary>What the guest retires with n=<paramref name="units"/>.</summary>
        public long Instructions(uint units) => units == 0 ? WithNone : FixedInstructions + units * PerUnit;
        public string LineAfterOne { get; init; } = "";
        public Dictionary<Runner, uint> Units { get; } = [];
        public Dictionary<Runner, List<double>> Mips { get; } = new() { [Runner.Soft] = [], [Runner.Tcg] = [], [Runner.TcgIcount] = [] };
        public List<double> QemuEmptySeconds { get; } = [];
    }

    public static int Run(int rounds, double seconds, bool withQemu)
    {
        string? qemu = null, qemuNote = "QEMU rows left out (--no-qemu)";
        if (withQemu) qemu = QemuTcg.Locate(out qemuNote);
        string dll = SelfProcess.Location;

        var guests = new List<Measured>();
        foreach (var guest in new[] { CpuBenchGuest.Loop(), CpuBenchGuest.Mix() })
        {
            var measured = Calibrate(guest, seconds);
            if (qemu is not null)
                foreach (var runner in new[] { Runner.Tcg, Runner.TcgIcount })
                    measured.Units[runner] = CalibrateQemu(qemu, measured, runner, seconds);
            guests.Add(measured);
        }
        string loopImage = guests[0].Guest.Image;
        MeasureStartup(dll, loopImage); // untimed: brings the tool's files into the page cache
        var startup = new List<double>();
        var processTotal = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            foreach (var m in guests)
            {
                m.Mips[Runner.Soft].Add(SoftMips(m));
                if (qemu is null) continue;
                foreach (var runner in new[] { Runner.Tcg, Runner.TcgIcount })
                    m.Mips[runner].Add(QemuMips(qemu, m, runner));
            }
            var (s, total) = MeasureStartup(dll, loopImage);
            startup.Add(s);
            processTotal.Add(total);
        }
        Print(guests, rounds, qemu, qemuNote, startup, processTotal);
        return 0;
    }

    /// <summary>
    /// Exact instructions for 0, 1 and 2 units; a warm-up run checked against them (the count
    /// must be affine in the units from 1 on); from its speed, the units for a soft run of about
    /// <paramref name="seconds"/>.
    /// </summary>
    private static Measured Calibrate(CpuBenchGuest guest, double seconds)
    {
        byte[] image = File.ReadAllBytes(guest.Image);
        var zero = SoftCpuGuestRun.Run(guest, image, 0);
        var one = SoftCpuGuestRun.Run(guest, image, 1);
        var two = SoftCpuGuestRun.Run(guest, image, 2);
        long perUnit = two.Instructions - one.Instructions;
        var m = new Measured(guest, image, zero.Instructions, one.Instructions - perUnit, perUnit) { LineAfterOne = one.Line };
        CheckSoft(m, 0, zero);
        CheckSoft(m, 2, two);
        // The first runs go before the JIT has optimised the processor (tiered compilation), several
        // times slower: grow the trial until it lasts a third of the target, by then at full speed.
        uint units = guest.CalibrationUnits;
        for (int attempt = 0; ; attempt++)
        {
            var trial = SoftCpuGuestRun.Run(guest, image, units);
            CheckSoft(m, units, trial);
            if (trial.Seconds >= seconds / 3 || attempt == 8 || units == uint.MaxValue)
            {
                m.Units[Runner.Soft] = UnitsFor(seconds, trial.Mips, m.PerUnit);
                return m;
            }
            units = Math.Max(UnitsFor(seconds / 3, trial.Mips, m.PerUnit), (uint)Math.Min(uint.MaxValue, units * 2UL));
        }
    }

    /// <summary>Units for about <paramref name="seconds"/> of QEMU's guest time, found by growing a trial run until it stands out of QEMU's startup.</summary>
    private static uint CalibrateQemu(string qemu, Measured m, Runner runner, double seconds)
    {
        uint units = UnitsFor(1, 200, m.PerUnit); // 200 M instructions, a fifth of a second at 1,000 MIPS
        QemuTcg.Run(qemu, m.Guest, 0, runner == Runner.TcgIcount); // untimed: QEMU's files into the page cache
        for (int attempt = 0; ; attempt++)
        {
            var empty = QemuTcg.Run(qemu, m.Guest, 0, runner == Runner.TcgIcount);
            var full = QemuTcg.Run(qemu, m.Guest, units, runner == Runner.TcgIcount);
            double guestSeconds = full.Seconds - empty.Seconds;
            // QEMU's startup varies by a tenth of a second and more on a busy host.
            if (guestSeconds > 0.5 || attempt == 4 || units == uint.MaxValue)
                return UnitsFor(seconds, (m.Instructions(units) - m.WithNone) / Math.Max(guestSeconds, 0.01) / 1e6, m.PerUnit);
            units = (uint)Math.Min(uint.MaxValue, units * 4UL);
        }
    }

    private static uint UnitsFor(double seconds, double mips, long perUnit) =>
        (uint)Math.Clamp(seconds * mips * 1e6 / perUnit, 1, uint.MaxValue);

    private static double SoftMips(Measured m)
    {
        uint units = m.Units[Runner.Soft];
        var r = SoftCpuGuestRun.Run(m.Guest, m.Image, units);
        CheckSoft(m, units, r);
        return r.Mips;
    }

    private static void CheckSoft(Measured m, uint units, SoftCpuGuestRun.Result r)
    {
        long expected = m.Instructions(units);
        if (r.Instructions != expected)
            throw new UserError($"{m.Guest.Name} n={units} retired {r.Instructions:N0} instructions, not the {expected:N0} its counts for 1 and 2 units predict: the benchmark needs the same count for every unit");
        CheckLine(m, units, r.Line, "the software CPU");
    }

    private static void CheckLine(Measured m, uint units, string line, string runner)
    {
        string expected = m.Guest.PredictLine(units, m.LineAfterOne);
        if (line != expected) throw new UserError($"{m.Guest.Name} n={units} under {runner} printed '{line}', expected '{expected}'");
    }

    /// <summary>QEMU's MIPS from a run with N units minus a run with none, credited with the software CPU's count for N units.</summary>
    private static double QemuMips(string qemu, Measured m, Runner runner)
    {
        bool icount = runner == Runner.TcgIcount;
        uint units = m.Units[runner];
        var full = QemuTcg.Run(qemu, m.Guest, units, icount);
        var empty = QemuTcg.Run(qemu, m.Guest, 0, icount);
        string name = icount ? "QEMU TCG -icount shift=0" : "QEMU TCG";
        CheckLine(m, units, full.Line, name);
        CheckLine(m, 0, empty.Line, name);
        if (!icount) m.QemuEmptySeconds.Add(empty.Seconds);
        return (m.Instructions(units) - m.WithNone) / (full.Seconds - empty.Seconds) / 1e6;
    }

    /// <summary>
    /// Starts <c>vmreplay run --cpu soft</c> on the n=0 loop guest with the startup stamp asked
    /// for; returns the seconds from just before the process start to the stamp, and to its end.
    /// </summary>
    private static (double Startup, double Total) MeasureStartup(string dll, string image)
    {
        var t = RecordReplayBench.Measure(dll, ["run", "--cpu", "soft", image, "--cmdline", "n=0", "--serial-in", "/dev/null"], "the loop guest (startup)", status => status == 1);
        if (t.Start is not { } startup) throw new UserError("vmreplay run --cpu soft (startup) printed no usable startup stamp");
        return (startup, t.Total);
    }

    private static void Print(List<Measured> guests, int rounds, string? qemu, string? qemuNote, List<double> startup, List<double> processTotal)
    {
        Console.WriteLine(Inv($"build: {BuildKind()}"));
        Console.WriteLine(qemu is null ? $"qemu: {qemuNote}" : $"qemu: {QemuTcg.Version(qemu)} ({qemu})");
        var t = new Table().Title(Inv($"software CPU speed, {rounds} alternating round(s); MIPS = guest instructions retired / guest run time"))
            .AddColumns("guest", "runner", "instructions per run", "MIPS (min / median / max)", "soft / this (min / median / max)");
        foreach (var m in guests)
        {
            var soft = m.Mips[Runner.Soft];
            t.AddRow(m.Guest.Name, "soft CPU, in process", Inv($"{m.Instructions(m.Units[Runner.Soft]):N0}"), Spread(soft, "F1"), "");
            if (qemu is null) continue;
            foreach (var runner in new[] { Runner.Tcg, Runner.TcgIcount })
            {
                var q = m.Mips[runner];
                t.AddRow("", runner == Runner.Tcg ? "QEMU TCG" : "QEMU TCG -icount shift=0",
                    Inv($"{m.Instructions(m.Units[runner]) - m.WithNone:N0} (n={m.Units[runner]} minus n=0)"), Spread(q, "F1"),
                    Spread(Ratios(soft, q), "F3"));
            }
        }
        // Wide enough for the table in one line per row when the output is not a terminal (Spectre assumes 80 columns).
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 160;
        console.Write(t);
        foreach (var m in guests)
            Console.WriteLine(Inv($"{m.Guest.Name}: {m.Guest.What}; {m.PerUnit:N0} instructions per {m.Guest.Unit}, {m.FixedInstructions:N0} fixed ({m.WithNone:N0} with none)"));
        Console.WriteLine("soft: the run of the guest in this process (PcMachine.Run, as 'vmreplay run --cpu soft'), machine building and process start left out; instructions from the processor's exact count.");
        if (qemu is not null)
        {
            Console.WriteLine("QEMU: whole-process time of n=N minus n=0 (startup, firmware, fixed part cancel), credited with the software CPU's count for N units; each run's output checked.");
            var empty = guests.SelectMany(m => m.QemuEmptySeconds).ToList();
            Console.WriteLine(Inv($"QEMU TCG process with n=0 (startup and firmware): {Spread(empty.Select(s => s * 1000).ToList(), "F0")} ms"));
        }
        Console.WriteLine(Inv($"vmreplay run --cpu soft, process start to the first guest instruction ({SelfProcess.Describe(SelfProcess.Location)}, n=0 cpu-loop): {Spread(startup.Select(s => s * 1000).ToList(), "F0")} ms; whole process {Spread(processTotal.Select(s => s * 1000).ToList(), "F0")} ms"));

        var figures = new List<string>();
        foreach (var m in guests)
        {
            string g = m.Guest.Name == "cpu-loop" ? "loop" : "mix";
            var soft = m.Mips[Runner.Soft];
            figures.Add(Inv($"soft_{g}_mips={BenchCommand.Median(soft):F1}"));
            if (qemu is null) continue;
            var tcg = m.Mips[Runner.Tcg];
            var icount = m.Mips[Runner.TcgIcount];
            figures.Add(Inv($"tcg_{g}_mips={BenchCommand.Median(tcg):F1} icount_{g}_mips={BenchCommand.Median(icount):F1} soft_over_tcg_{g}={BenchCommand.Median(Ratios(soft, tcg)):F3} soft_over_icount_{g}={BenchCommand.Median(Ratios(soft, icount)):F3}"));
        }
        figures.Add(Inv($"startup_ms={BenchCommand.Median(startup) * 1000:F0}"));
        Console.WriteLine(string.Join(' ', figures));
    }

    /// <summary>Whether the JIT optimises the software CPU: a Debug build runs it several times slower.</summary>
    private static string BuildKind() =>
        SelfProcess.IsNative ? "Release (Native AOT: compiled ahead of time, no JIT)"
        : typeof(Processor).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true
            ? "Debug (JIT optimisation off; the software CPU runs several times slower than in a Release build: dotnet build -c Release)"
            : "Release (JIT optimisation on)";

    /// <summary>Round by round: each soft figure over the QEMU figure measured next to it.</summary>
    private static List<double> Ratios(List<double> soft, List<double> qemu) => soft.Zip(qemu, (s, q) => s / q).ToList();

    private static string Spread(List<double> xs, string format) =>
        string.Format(CultureInfo.InvariantCulture, $"{{0:{format}}} / {{1:{format}}} / {{2:{format}}}", xs.Min(), BenchCommand.Median(xs), xs.Max());

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
