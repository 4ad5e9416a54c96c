using System.Diagnostics;

namespace VmReplay.Cli;

/// <summary>
/// How the benchmarks start this same vmreplay again, as a user would: the native executable of
/// a Native AOT build, or <c>dotnet</c> with this build's vmreplay.dll.
/// </summary>
internal static class SelfProcess
{
    /// <summary>What to start: this build's vmreplay.dll, or the native executable of a Native AOT build, which has none.</summary>
    public static string Location => IsNative
        ? Environment.ProcessPath ?? throw new UserError("cannot tell where this vmreplay's executable is")
        : ManagedAssembly;

    /// <summary>
    /// Whether this is the Native AOT build. Not RuntimeFeature.IsDynamicCodeSupported: a project
    /// published Native AOT turns that off in its managed build too, to behave alike.
    /// </summary>
    public static bool IsNative => !File.Exists(ManagedAssembly);

    private static string ManagedAssembly => Path.Combine(AppContext.BaseDirectory, "vmreplay.dll");

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
