namespace VmReplay.Engine.Backend;

/// <summary>
/// Whether this host's KVM runs guests on hardware virtualization. A paravirtual KVM backend
/// (PVM, on cloud VMs without nested virtualization) opens and answers every capability like
/// the real one, but emulates guest kernel code instruction by instruction (~1.7 M instructions/s,
/// measured on such a host in 2026-11) and fails on <c>iret</c>, <c>int3</c> and others; there the
/// software CPU is hundreds of times faster and exact, so auto takes it.
/// </summary>
public static class HardwareVirtualization
{
    private const string CpuInfo = "/proc/cpuinfo";

    /// <summary>
    /// Null where KVM can use VT-x or AMD-V (or where that cannot be told: auto keeps KVM), else
    /// why KVM here is not worth running on, for the line that names the backend.
    /// </summary>
    public static string? WhyKvmIsSlow() => WhyKvmIsSlow(ReadFlags(), Directory.Exists("/sys/module/kvm_pvm"));

    /// <summary>
    /// Why auto passes over KVM at <paramref name="kvmPath"/> although it may open, or null. Where
    /// the device does not exist, opening it says so better.
    /// </summary>
    public static string? WhyAutoPassesOver(string kvmPath) => File.Exists(kvmPath) ? WhyKvmIsSlow() : null;

    /// <summary>The decision, from the first <c>flags</c> line of /proc/cpuinfo and whether kvm_pvm is loaded.</summary>
    public static string? WhyKvmIsSlow(string? flags, bool pvmLoaded)
    {
        if (flags is null) return null;
        var set = flags.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (set.Contains("vmx") || set.Contains("svm")) return null;
        string backend = pvmLoaded ? "by the paravirtual kvm_pvm module" : "without hardware virtualization";
        return $"/dev/kvm is served {backend} (no vmx or svm flag in {CpuInfo}), which emulates guest kernel code " +
               "at about 2 M instructions/s (--cpu kvm uses it anyway)";
    }

    private static string? ReadFlags()
    {
        try
        {
            foreach (var line in File.ReadLines(CpuInfo))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal)) continue;
                int colon = line.IndexOf(':');
                return colon < 0 ? null : line[(colon + 1)..];
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
