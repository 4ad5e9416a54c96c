using VmReplay.Devices.Legacy;

namespace VmReplay.Devices.Tests;

public class PostCodePortTests
{
    [Fact]
    public void ReadsBackTheLastCode()
    {
        var post = new PostCodePort();
        Assert.Equal(0, post.In(0));
        post.Out(0, 0x42);
        Assert.Equal(0x42, post.In(0));
        Assert.Equal(0x42, post.LastCode);
        post.Out16(0, 0x1155); // a wider write: the port takes its low byte
        Assert.Equal(0x55, post.In(0));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        var a = new PostCodePort();
        a.Out(0, 0x42);
        var b = new PostCodePort();
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        Assert.Equal(a.In(0), b.In(0));
        a.Out(0, 0x99);
        b.Out(0, 0x99);
        Assert.Equal(a.In(0), b.In(0));
    }

    [Fact]
    public void DescribeGivesTheLastCodeInHex() => Assert.Equal("last code 4f", new PostCodePortState { LastCode = 0x4F }.Describe());
}
