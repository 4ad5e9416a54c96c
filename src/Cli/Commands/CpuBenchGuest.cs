using System.Globalization;
using System.Text.RegularExpressions;

namespace VmReplay.Cli.Commands;

/// <summary>
/// A guest of <c>vmreplay bench cpu</c>: a Multiboot image that does <c>n=N</c> units of work (from
/// its command line), prints one line and exits through the debug-exit port. Every unit retires
/// the same number of instructions, so the count is linear in N; <see cref="PredictLine"/> gives
/// the line the guest prints after N units, from the line it printed after one, so a QEMU run
/// (whose instructions nobody counts) is checked to have done the work it is credited with.
/// </summary>
internal sealed partial record CpuBenchGuest(string Name, string What, string Unit, string Image, Func<uint, string, string> PredictLine)
{
    /// <summary>Units of work a first, untimed run uses to warm up and to estimate the speed.</summary>
    public required uint CalibrationUnits { get; init; }

    public static CpuBenchGuest Loop() => new(
        "cpu-loop", "tight integer loop (add; dec; jnz)", "iteration",
        RepositoryPaths.Require("guests", "build", "cpu-loop", "cpu-loop.elf"),
        (n, _) => Inv($"cpu-loop: iterations 0x{n:x8} sum 0x{(uint)((ulong)n * (n + 1UL) / 2):x8}"))
    { CalibrationUnits = 2_000_000 };

    /// <summary>The checksum is checksum * 31 + (one round's value) per round, from 0.</summary>
    public static CpuBenchGuest Mix() => new(
        "cpu-mix", "instruction mix (quicksort, hash table with DIV, decimal formatting, rep movsb, strcmp, CRC-32)", "round",
        RepositoryPaths.Require("guests", "build", "cpu-mix", "cpu-mix.elf"),
        (n, afterOne) =>
        {
            var m = MixChecksum().Match(afterOne);
            if (!m.Success) throw new UserError($"cpu-mix printed an unexpected line after one round: {afterOne}");
            uint perRound = uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), checksum = 0;
            for (uint r = 0; r < n; r++) checksum = unchecked(checksum * 31 + perRound);
            return Inv($"cpu-mix: rounds 0x{n:x8} checksum 0x{checksum:x8}");
        })
    { CalibrationUnits = 4 };

    /// <summary>
    /// The command line for <paramref name="units"/>: always ten digits, since parsing each digit
    /// costs instructions and the count must not depend on anything but the units.
    /// </summary>
    public static string Cmdline(uint units) => Inv($"n={units:D10}");

    /// <summary>The guest's line in everything it printed (the last non-empty line).</summary>
    public static string LineOf(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"checksum 0x([0-9a-f]{8})")]
    private static partial Regex MixChecksum();
}
