using System.Diagnostics;

namespace VmReplay.Cli;

/// <summary>
/// How the benchmarks start this same vmreplay again, as a user would: the native executable of
/// a Native AOT build, or <c>dotnet</c> with this build's vmreplay.dll.
/// </summary>
internal static class SelfProcess
{
    /// <summary>What to start: the native executable of a Native AOT build, else this build's vmreplay.dll.</summary>
    public static string Location =>
        !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported
            ? Environment.ProcessPath ?? throw new UserError("cannot tell where this vmreplay's executable is")
            : Path.Combine(AppContext.BaseDirectory, "vmreplay.dll");

    /// <summary>How the benchmarks' figures name what they started.</summary>
    public static string Describe(string self) => IsDll(self) ? "dotnet vmreplay.dll" : "the native vmreplay";

    /// <summary>A start of <paramref name="self"/> (a <see cref="Location"/>) with <paramref name="args"/>, its output redirected.</summary>
    public static ProcessStartInfo StartInfo(string self, IEnumerable<string> args)
    {
        var psi = IsDll(self) ? new ProcessStartInfo("dotnet") : new ProcessStartInfo(self);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        if (IsDll(self)) psi.ArgumentList.Add(self);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static bool IsDll(string self) => self.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
}
