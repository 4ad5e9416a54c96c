using System.Diagnostics;

namespace VmReplay.Cli.Commands;

/// <summary>
/// A bench guest under <c>qemu-system-x86_64 -accel tcg</c> (QEMU's own binary translator), booted
/// as a Multiboot kernel with the debug-exit device at 0xf4 and COM1 on stdout, timed as a whole
/// process. QEMU is installed from the distribution when it is missing, as guests/linux/bench.sh does.
/// </summary>
internal static class QemuTcg
{
    private const string Binary = "qemu-system-x86_64";

    public readonly record struct Result(double Seconds, string Line);

    /// <summary>The path of QEMU, installing qemu-system-x86 with apt-get if needed; null with the reason when there is none.</summary>
    public static string? Locate(out string? why)
    {
        why = null;
        if (FindOnPath() is { } found) return found;
        bool root = Environment.IsPrivilegedProcess;
        string[] prefix = root ? [] : CanSudo() ? ["sudo", "-n"] : [];
        if (!root && prefix.Length == 0)
        {
            why = $"{Binary} is missing and this user cannot install it: install qemu-system-x86 as root (apt-get install qemu-system-x86)";
            return null;
        }
        Console.Error.WriteLine("vmreplay: installing qemu-system-x86 (apt-get) for the QEMU rows");
        string? failure = AptGet(prefix, ["install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86"]);
        // A stale package index is the usual reason the first attempt fails.
        if (failure is not null && AptGet(prefix, ["update", "-qq"]) is null)
            failure = AptGet(prefix, ["install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86"]);
        if (FindOnPath() is { } installed) return installed;
        why = $"apt-get could not install qemu-system-x86 ({failure ?? "no " + Binary + " afterwards"})";
        return null;
    }

    /// <summary>QEMU's version line ("QEMU emulator version 7.2.x ...").</summary>
    public static string Version(string qemu) =>
        BenchCommand.RunProcess(qemu, ["--version"]).Split('\n')[0].Trim();

    /// <summary>Boots <paramref name="image"/> with n=<paramref name="units"/>; the time covers the whole QEMU process.</summary>
    public static Result Run(string qemu, CpuBenchGuest guest, uint units, bool icount)
    {
        var psi = new ProcessStartInfo(qemu) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in Arguments(guest.Image, units, icount)) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new UserError($"cannot start {qemu}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        sw.Stop();
        // isa-debug-exit: status (v << 1) | 1, and the guests write 0.
        if (p.ExitCode != 1)
            throw new UserError($"{Binary} ({guest.Name} n={units}) ended with status {p.ExitCode}: {stderr.Result.Trim()} {stdout.Result.Trim()}");
        return new Result(sw.Elapsed.TotalSeconds, CpuBenchGuest.LineOf(stdout.Result));
    }

    internal static string[] Arguments(string image, uint units, bool icount) =>
    [
        "-accel", "tcg", .. icount ? new[] { "-icount", "shift=0" } : [],
        "-m", "64M", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-kernel", image, "-append", CpuBenchGuest.Cmdline(units),
    ];

    private static string? FindOnPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, Binary)).FirstOrDefault(File.Exists);

    private static bool CanSudo()
    {
        try { return Process.Start(new ProcessStartInfo("sudo", ["-n", "true"]) { RedirectStandardError = true }) is { } p && p.WaitForExit(10_000) && p.ExitCode == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>Runs apt-get non-interactively; null on success, else its first error line.</summary>
    private static string? AptGet(string[] prefix, string[] args)
    {
        string[] command = [.. prefix, "apt-get", .. args];
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        try
        {
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync();
            string error = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode == 0) return null;
            string all = error + "\n" + output.Result;
            return all.Split('\n').FirstOrDefault(l => l.StartsWith("E:", StringComparison.Ordinal))?.Trim()
                ?? $"apt-get {args[0]} failed with status {p.ExitCode}";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"cannot run {command[0]}: {e.Message}"; }
    }
}
