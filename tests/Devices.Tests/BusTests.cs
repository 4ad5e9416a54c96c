using VmReplay.Devices.Bus;
using VmReplay.Devices.Legacy;

namespace VmReplay.Devices.Tests;

public class BusTests
{
    [Fact]
    public void OverlappingRegistrationIsRejected()
    {
        var bus = new IoBus();
        bus.Register(0x3F8, 8, "com1", new PostCodePort());
        var e = Assert.Throws<BusOverlapException>(() => bus.Register(0x3FF, 2, "other", new PostCodePort()));
        Assert.Contains("com1", e.Message);
        bus.Register(0x400, 1, "adjacent", new PostCodePort()); // touching is fine
    }

    [Fact]
    public void AccessesReachTheDeviceAtItsOffset()
    {
        var bus = new IoBus();
        var dev = new RecordingDevice();
        bus.Register(0x70, 2, "cmos", dev);
        bus.Register(0x20, 2, "pic", new PostCodePort());
        Assert.True(bus.Write(0x71, [5]));
        Assert.Equal(1UL, dev.LastOffset);
        Assert.Equal("cmos", bus.Resolve(0x70)!.Value.Name);
        Assert.Null(bus.Resolve(0x72));
    }

    [Fact]
    public void UnmappedAccessesReadAllOnesAndAreCounted()
    {
        var bus = new IoBus();
        Span<byte> b = stackalloc byte[2];
        Assert.False(bus.Read(0x1234, b));
        Assert.Equal(0xFF, b[0]);
        Assert.Equal(0xFF, b[1]);
        Assert.False(bus.Write(0x1234, [1]));
        bus.Read(0x1234, b);
        Assert.Equal(2, bus.UnmappedReads[0x1234]);
        Assert.Equal(1, bus.UnmappedWrites[0x1234]);
    }

    private sealed class RecordingDevice : IBusDevice
    {
        public ulong LastOffset;
        public void Read(ulong offset, Span<byte> data) { LastOffset = offset; data.Clear(); }
        public void Write(ulong offset, ReadOnlySpan<byte> data) => LastOffset = offset;
    }
}
