using VmReplay.Devices.Legacy;

namespace VmReplay.Devices.Tests;

public class LegacyDeviceTests
{
    [Fact]
    public void I8042SelfTestAndConfigByte()
    {
        var kbc = new I8042(() => { });
        kbc.CommandPort.Out(0, 0xAA);
        Assert.Equal(0x01, kbc.CommandPort.In(0) & 0x01); // output buffer full
        Assert.Equal(0x55, kbc.DataPort.In(0));
        Assert.Equal(0x00, kbc.CommandPort.In(0) & 0x01);
        kbc.CommandPort.Out(0, 0x60);
        kbc.DataPort.Out(0, 0x47);
        kbc.CommandPort.Out(0, 0x20);
        Assert.Equal(0x47, kbc.DataPort.In(0));
    }

    [Fact]
    public void I8042ResetCommandsPulseTheResetLine()
    {
        int resets = 0;
        var kbc = new I8042(() => resets++);
        kbc.CommandPort.Out(0, 0xFE);
        Assert.Equal(1, resets);
        kbc.CommandPort.Out(0, 0xD1);
        kbc.DataPort.Out(0, 0xFE); // output port bit 0 low: reset
        Assert.Equal(2, resets);
    }

    [Fact]
    public void I8042SaveRestore()
    {
        var a = new I8042(() => { });
        a.CommandPort.Out(0, 0xAA);
        var b = new I8042(() => { });
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        Assert.Equal(a.CommandPort.In(0), b.CommandPort.In(0));
        Assert.Equal(a.DataPort.In(0), b.DataPort.In(0));
    }

    [Fact]
    public void DebugExitPassesTheWrittenValue()
    {
        uint? seen = null;
        var port = new DebugExitPort(v => seen = v);
        port.Out(0, 0x31);
        Assert.Equal(0x31u, seen);
        port.Out32(0, 0x1234);
        Assert.Equal(0x1234u, seen);
        Assert.Equal(0xFF, port.In(0));
    }

    [Fact]
    public void PostPortReadsBackTheLastCode()
    {
        var post = new PostCodePort();
        post.Out(0, 0x42);
        Assert.Equal(0x42, post.In(0));
        var b = new PostCodePort();
        b.RestoreState(StateJson.RoundTrip(post.SaveState()));
        Assert.Equal(0x42, b.In(0));
    }
}
