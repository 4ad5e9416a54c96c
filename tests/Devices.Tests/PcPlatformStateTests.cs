using VmReplay.Devices.Platform;

namespace VmReplay.Devices.Tests;

public class PcPlatformStateTests
{
    [Fact]
    public void DescribeCoversEveryDeviceUnderItsStateName()
    {
        // `monitor device NAME` finds the same names in the readable and the JSON form only if they agree.
        var platform = new PcPlatform(new FakeClock(), new FakeInput(), _ => { }, 64 << 20);
        var described = platform.SaveState().Describe().ToList();
        Assert.Equal(typeof(PcPlatformState).GetProperties().Select(p => p.Name), described.Select(d => d.Name));
        var com1 = described.Single(d => d.Name == "Com1").Text;
        Assert.StartsWith("Com1: 16550A at 0x3f8, IRQ 4\n  divisor ", com1);
        Assert.EndsWith("\n", com1);
    }
}
