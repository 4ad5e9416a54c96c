using VmReplay.Engine.Backend;

namespace VmReplay.Engine.Tests.Backend;

public class HardwareVirtualizationTests
{
    [Theory]
    [InlineData(" fpu vme de pse tsc msr pae mce cx8 apic vmx smx est", false)]
    [InlineData(" fpu vme de svm extapic cr8_legacy abm", false)]
    [InlineData(" fpu vme de pse tsc msr hypervisor lahf_lm", true)]
    public void AutoKeepsKvmOnlyWhereTheCpuOffersVtxOrAmdV(string flags, bool slow)
    {
        Assert.Equal(slow, HardwareVirtualization.WhyKvmIsSlow(flags, pvmLoaded: false) is not null);
    }

    [Fact]
    public void APvmBackendIsNamedAndTheWayToForceKvmGiven()
    {
        string why = HardwareVirtualization.WhyKvmIsSlow(" fpu hypervisor", pvmLoaded: true)!;
        Assert.Contains("kvm_pvm", why);
        Assert.Contains("--cpu kvm", why);
        // A flag that merely contains the letters does not count.
        Assert.NotNull(HardwareVirtualization.WhyKvmIsSlow(" svm_lock vmx_ept", pvmLoaded: false));
    }

    [Fact]
    public void AHostWhoseFlagsCannotBeReadKeepsKvm() => Assert.Null(HardwareVirtualization.WhyKvmIsSlow(null, pvmLoaded: true));

    [Fact]
    public void ThisHostsVerdictMatchesItsCpuinfo()
    {
        // The reading this host gives, checked against the flags line itself.
        string flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal));
        bool hardware = flags.Split(' ', ':', '\t').Any(f => f is "vmx" or "svm");
        Assert.Equal(hardware, HardwareVirtualization.WhyKvmIsSlow() is null);
    }
}
