using System.Diagnostics;

namespace VmReplay.Integration.Tests;

/// <summary>Runs the real <c>vmreplay</c> tool (built beside the tests) as a process.</summary>
internal static class Vmreplay
{
    /// <summary>
    /// How a run ended. <see cref="Stderr"/> leaves out the line naming the CPU backend
    /// ("vmreplay: cpu: ..."), which every run, record and replay prints first; <see cref="Cpu"/> holds it.
    /// </summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr, string? Cpu = null);

    /// <summary>The checkout root (holding guests/Makefile).</summary>
    public static string RepoRoot { get; } = FindRoot();

    public static string Guest(string name, string file) => Path.Combine(RepoRoot, "guests", "build", name, file);

    /// <summary>
    /// The CPU backends a scenario runs on, for <c>[MemberData]</c>: the software CPU always, KVM
    /// too (a test given "kvm" calls <see cref="RequireBackend"/>, which skips it, with the
    /// reason, on a host without /dev/kvm).
    /// </summary>
    public static TheoryData<string> Backends => new() { "soft", "kvm" };

    /// <summary>Skips the calling test when <paramref name="cpu"/> is "kvm" and this host has no usable KVM.</summary>
    public static void RequireBackend(string cpu)
    {
        if (cpu == "kvm") VmReplay.Tests.KvmHost.Require();
    }

    /// <summary>
    /// Runs vmreplay (<paramref name="tool"/>, else <see cref="UnderTest"/>). <paramref name="cpu"/>
    /// ("soft", "kvm") sets the default backend of run, record and replay through $VMREPLAY_CPU;
    /// null leaves it to auto (KVM where usable).
    /// </summary>
    public static Result Run(IEnumerable<string> args, string? stdin = null, int timeoutSeconds = 120, string? cpu = null, string? tool = null)
    {
        var psi = StartInfo(args, tool);
        psi.RedirectStandardInput = true;
        if (cpu is not null) psi.Environment["VMREPLAY_CPU"] = cpu;
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"vmreplay {string.Join(' ', args)} did not finish in {timeoutSeconds} s; stdout so far: {stdout.Result}");
        }
        var lines = stderr.Result.Split('\n');
        string? backendLine = lines.FirstOrDefault(l => l.StartsWith(CpuLine, StringComparison.Ordinal));
        string rest = backendLine is null ? stderr.Result : string.Join('\n', lines.Where(l => !l.StartsWith(CpuLine, StringComparison.Ordinal)));
        return new Result(p.ExitCode, stdout.Result, rest, backendLine?[CpuLine.Length..]);
    }

    private const string CpuLine = "vmreplay: cpu: ";

    /// <summary>
    /// The vmreplay the tests run: the one built beside them (dotnet vmreplay.dll), or the
    /// executable <c>$VMREPLAY_UNDER_TEST</c> names (a published native build, say), so that the
    /// same tests can be run against it.
    /// </summary>
    public static string UnderTest { get; } =
        Environment.GetEnvironmentVariable("VMREPLAY_UNDER_TEST") is { Length: > 0 } chosen ? Path.GetFullPath(chosen) : Path.Combine(AppContext.BaseDirectory, "vmreplay.dll");

    /// <summary>Whether <see cref="UnderTest"/> is a native executable rather than a managed build's vmreplay.dll.</summary>
    public static bool UnderTestIsNative => !UnderTest.EndsWith(".dll", StringComparison.Ordinal);

    /// <summary>A start of the vmreplay under test with <paramref name="args"/>, its stdout and stderr redirected.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, string? tool = null)
    {
        tool ??= UnderTest;
        bool dll = tool.EndsWith(".dll", StringComparison.Ordinal);
        var psi = new ProcessStartInfo(dll ? "dotnet" : tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (dll) psi.ArgumentList.Add(tool);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>How a shell starts the vmreplay under test (quoted), for a command line of its own.</summary>
    public static string ShellCommand => UnderTest.EndsWith(".dll", StringComparison.Ordinal) ? $"dotnet '{UnderTest}'" : $"'{UnderTest}'";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "guests", "Makefile"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the checkout (guests/Makefile) above " + AppContext.BaseDirectory);
    }
}
