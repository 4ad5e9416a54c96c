using VmReplay.Engine.Vm;
using Xunit;

namespace VmReplay.Engine.Tests.Vm;

public class XsaveAreaTests
{
    private static unsafe byte[] Bytes(XsaveState x) => new Span<byte>(x.Region, 4096).ToArray();

    private static unsafe XsaveState Area(ulong xstateBv, Action<Span<byte>> fill)
    {
        var x = new XsaveState();
        fill(new Span<byte>(x.Region, 4096));
        x.Region[128] = (uint)xstateBv;
        x.Region[129] = (uint)(xstateBv >> 32);
        return x;
    }

    [Fact]
    public void InitialComponentsWithStaleBytesEqualTheSameStateMarkedInUse()
    {
        // The host left XMM0 and ST0 garbage but marked both components initial.
        var stale = Area(0, b => { b[160] = 0xAA; b[32] = 0x55; b[24] = 0x80; b[25] = 0x1F; });
        // The same guest state saved with both components marked in use.
        var inUse = Area(3, b => { b[0] = 0x7F; b[1] = 0x03; b[24] = 0x80; b[25] = 0x1F; });
        Assert.Equal(Bytes(XsaveArea.Canonical(inUse)), Bytes(XsaveArea.Canonical(stale)));
    }

    [Fact]
    public void ComponentsInUseKeepTheirValues()
    {
        var x = Area(3, b => { b[0] = 0x7F; b[1] = 0x02; b[160] = 0x42; b[24] = 0x80; });
        var c = Bytes(XsaveArea.Canonical(x));
        Assert.Equal(Bytes(x), c);
        // A different XMM0 stays different.
        var y = Area(3, b => { b[0] = 0x7F; b[1] = 0x02; b[160] = 0x43; b[24] = 0x80; });
        Assert.NotEqual(c, Bytes(XsaveArea.Canonical(y)));
    }

    [Fact]
    public void MxcsrIsKeptEvenWhenSseIsInitial()
    {
        var a = Area(1, b => { b[24] = 0x80; b[25] = 0x1F; });
        var b2 = Area(1, b => { b[24] = 0xC0; b[25] = 0x1F; });
        Assert.NotEqual(Bytes(XsaveArea.Canonical(a)), Bytes(XsaveArea.Canonical(b2)));
    }
}
