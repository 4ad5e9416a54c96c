using System.Diagnostics;

namespace VmReplay.Integration.Tests;

/// <summary>Addresses of a guest's symbols, as binutils' nm lists them.</summary>
internal static class ElfSymbols
{
    /// <summary>The address of symbol <paramref name="name"/> in <paramref name="elf"/>.</summary>
    public static ulong Address(string elf, string name)
    {
        var psi = new ProcessStartInfo("nm") { RedirectStandardOutput = true };
        psi.ArgumentList.Add(elf);
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd().Split('\n').First(l => l.EndsWith(" " + name));
        return Convert.ToUInt64(line.Split(' ')[0], 16);
    }
}
