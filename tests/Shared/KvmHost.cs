namespace VmReplay.Tests;

/// <summary>
/// Whether this host can run guests on KVM. Tests that need /dev/kvm itself call
/// <see cref="Require"/> first, so that on a host without it (CI) they are reported as skipped,
/// with the reason, instead of failing or passing without having run.
/// </summary>
internal static class KvmHost
{
    public const string SkipReason = "no /dev/kvm on this host";

    private static readonly Lazy<string?> Unusable = new(Probe);

    /// <summary>Skips the calling test unless /dev/kvm exists and opens read/write.</summary>
    public static void Require()
    {
        if (Unusable.Value is { } reason) Assert.Skip(reason);
    }

    // null when usable, else the skip reason.
    private static string? Probe()
    {
        if (!File.Exists("/dev/kvm")) return SkipReason;
        try
        {
            using var _ = File.OpenHandle("/dev/kvm", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return $"{SkipReason} that this user can open read/write: {e.Message}";
        }
    }
}
