namespace VmReplay.Engine.Backend;

/// <summary>The two ways vmreplay executes guest code.</summary>
public enum CpuBackendKind
{
    /// <summary>Linux KVM: the host processor runs the guest; fast where /dev/kvm is usable.</summary>
    Kvm,
    /// <summary>The software x86 CPU: runs anywhere, counts every instruction, sees every access.</summary>
    Soft,
}

/// <summary>What the user asked for with <c>--cpu</c>.</summary>
public enum CpuBackendChoice
{
    /// <summary>KVM where it is usable and backed by hardware virtualization, else the software CPU.</summary>
    Auto,
    Kvm,
    Soft,
    /// <summary>
    /// Not spelt on the command line: KVM wherever /dev/kvm is usable, a paravirtual one too, else
    /// the software CPU. How auto replays a KVM recording: on KVM its forced points are reached
    /// as they were recorded, where the software CPU has to find them by matching registers and
    /// memory, which is worth the paravirtual backend's slowness.
    /// </summary>
    AnyKvm,
}

public static class CpuBackendNames
{
    /// <summary>The name used on the command line, in traces and in reports: "kvm" or "soft".</summary>
    public static string Name(this CpuBackendKind kind) => kind == CpuBackendKind.Kvm ? "kvm" : "soft";

    /// <summary>A choice as the command line spells it ("auto", "kvm" or "soft"): what <see cref="TryParse"/> reads back.</summary>
    public static string Name(this CpuBackendChoice choice) => choice switch
    {
        CpuBackendChoice.Kvm => "kvm",
        CpuBackendChoice.Soft => "soft",
        _ => "auto",
    };

    public static bool TryParse(string text, out CpuBackendChoice choice)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "auto": choice = CpuBackendChoice.Auto; return true;
            case "kvm": choice = CpuBackendChoice.Kvm; return true;
            case "soft": choice = CpuBackendChoice.Soft; return true;
            default: choice = default; return false;
        }
    }
}
