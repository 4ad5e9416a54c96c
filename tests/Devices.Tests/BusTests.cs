using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Tests;

public class BusTests
{
    [Fact]
    public void AddressRangesAreHalfOpen()
    {
        var r = new AddressRange(0x3F8, 8);
        Assert.True(r.Contains(0x3F8));
        Assert.True(r.Contains(0x3FF));
        Assert.False(r.Contains(0x400));
        Assert.False(r.Contains(0x3F7));
        Assert.Equal(0x400UL, r.End);
        Assert.True(r.Overlaps(new AddressRange(0x3FF, 1)));
        Assert.False(r.Overlaps(new AddressRange(0x400, 4)));
        Assert.False(r.Overlaps(new AddressRange(0x3F0, 8)));
    }

    [Fact]
    public void OverlappingRegistrationIsRejected()
    {
        var bus = new IoBus();
        bus.Register(0x3F8, 8, "com1", new RecordingDevice());
        var e = Assert.Throws<BusOverlapException>(() => bus.Register(0x3FF, 2, "other", new RecordingDevice()));
        Assert.Contains("com1", e.Message);
        Assert.Throws<BusOverlapException>(() => bus.Register(0x3F0, 0x20, "around", new RecordingDevice()));
        bus.Register(0x400, 1, "adjacent", new RecordingDevice()); // touching is fine
        bus.Register(0x3F0, 8, "below", new RecordingDevice());
        Assert.Throws<ArgumentException>(() => bus.Register(0x500, 0, "empty", new RecordingDevice()));
    }

    [Fact]
    public void AccessesReachTheDeviceAtItsOffset()
    {
        var bus = new IoBus();
        var cmos = new RecordingDevice();
        var pic = new RecordingDevice();
        bus.Register(0x70, 2, "cmos", cmos);
        bus.Register(0x20, 2, "pic", pic);
        Assert.True(bus.Write(0x71, [5]));
        Assert.Equal(1UL, cmos.LastOffset);
        Assert.Equal([5], cmos.LastWrite);
        Span<byte> b = stackalloc byte[1];
        Assert.True(bus.Read(0x20, b));
        Assert.Equal(0UL, pic.LastOffset);
        Assert.Equal(0x20, b[0]); // the test device answers with the offset + 0x20
        Assert.Equal("cmos", bus.Resolve(0x70)!.Value.Name);
        Assert.Equal(1UL, bus.Resolve(0x71)!.Value.Offset);
        Assert.Null(bus.Resolve(0x72));
        Assert.Null(bus.Resolve(0x1F));
    }

    [Fact]
    public void ResolveFindsEveryDeviceAmongMany()
    {
        var bus = new MmioBus();
        var devices = new List<RecordingDevice>();
        // Registered out of order; the bus keeps them sorted.
        foreach (ulong i in new ulong[] { 7, 2, 9, 0, 5, 3, 8, 1, 6, 4 })
        {
            var d = new RecordingDevice();
            bus.Register(new AddressRange(0xFEC0_0000 + i * 0x1000, 0x100), $"dev{i}", d);
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"dev{i}"), bus.Devices.Select(d => d.Name));
        for (ulong i = 0; i < 10; i++)
        {
            Assert.Equal($"dev{i}", bus.Resolve(0xFEC0_0000 + i * 0x1000 + 0xFF)!.Value.Name);
            Assert.Null(bus.Resolve(0xFEC0_0000 + i * 0x1000 + 0x100));
        }
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
        Assert.Equal("I/O port", bus.Name);
        Assert.Equal("MMIO", new MmioBus().Name);
    }

    private sealed class RecordingDevice : IBusDevice
    {
        public ulong LastOffset;
        public byte[] LastWrite = [];

        public void Read(ulong offset, Span<byte> data)
        {
            LastOffset = offset;
            data.Fill((byte)(0x20 + offset));
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            LastOffset = offset;
            LastWrite = data.ToArray();
        }
    }
}
