using VmReplay.Devices.Legacy;

namespace VmReplay.Devices.Tests;

public class DebugExitPortTests
{
    [Fact]
    public void EveryWriteWidthPassesTheValueWritten()
    {
        var seen = new List<uint>();
        var port = new DebugExitPort(seen.Add);
        port.Out(0, 0x31);
        port.Out16(0, 0x1234);
        port.Out32(0, 0xDEAD_BEEF);
        port.Out(3, 0x02);
        Assert.Equal([0x31u, 0x1234u, 0xDEAD_BEEFu, 0x02u], seen);
    }

    [Fact]
    public void ReadsReturnZeroLikeQemu()
    {
        var port = new DebugExitPort(_ => throw new InvalidOperationException("a read must not exit"));
        Assert.Equal(0u, port.In32(0));
        Assert.Equal(0, port.In(2));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        uint? a = null, b = null;
        var portA = new DebugExitPort(v => a = v);
        var portB = new DebugExitPort(v => b = v);
        portB.RestoreState(StateJson.RoundTrip(portA.SaveState()));
        portA.Out(0, 7);
        portB.Out(0, 7);
        Assert.Equal(a, b);
    }

    [Fact]
    public void DescribeSaysThereIsNoState() => Assert.Equal("no state (a write ends the VM)", new DebugExitPortState().Describe());
}
