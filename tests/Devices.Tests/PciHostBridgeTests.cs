using VmReplay.Devices.Pci;

namespace VmReplay.Devices.Tests;

public class PciHostBridgeTests
{
    private readonly PciHostBridge _pci = new();

    private uint ConfigRead(int bus, int dev, int fn, int reg)
    {
        _pci.Out32(0, 0x8000_0000u | (uint)(bus << 16 | dev << 11 | fn << 8 | reg));
        return _pci.In32(4);
    }

    [Fact]
    public void HostBridgeEnumeratesAtBus0Device0()
    {
        Assert.Equal(0x1237_8086u, ConfigRead(0, 0, 0, 0));
        Assert.Equal(0x0600_0000u, ConfigRead(0, 0, 0, 8) & 0xFFFF_FF00); // class: bridge, host
        Assert.Equal(0u, (ConfigRead(0, 0, 0, 0x0C) >> 16) & 0x7F);        // header type 0
    }

    [Fact]
    public void AbsentFunctionsReadAllOnes()
    {
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(0, 1, 0, 0));
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(0, 0, 1, 0));
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(1, 0, 0, 0));
        int found = 0;
        for (int dev = 0; dev < 32; dev++)
            if ((ConfigRead(0, dev, 0, 0) & 0xFFFF) != 0xFFFF) found++;
        Assert.Equal(1, found);
    }

    [Fact]
    public void EnableBitClearReadsAllOnes()
    {
        _pci.Out32(0, 0x0000_0000);
        Assert.Equal(0xFFFF_FFFFu, _pci.In32(4));
    }

    [Fact]
    public void ByteAndWordAccessesToConfigData()
    {
        _pci.Out32(0, 0x8000_0000);
        Assert.Equal(0x86, _pci.In(4));
        Assert.Equal(0x80, _pci.In(5));
        Span<byte> w = stackalloc byte[2];
        _pci.Read(6, w);
        Assert.Equal(0x1237, BitConverter.ToUInt16(w));
    }

    [Fact]
    public void AddressRegisterReadsBackAndCommandIsWritable()
    {
        _pci.Out32(0, 0x8000_0004);
        Assert.Equal(0x8000_0004u, _pci.In32(0));
        _pci.Out(4, 0x06); // memory space + bus master
        Assert.Equal(0x06u, ConfigRead(0, 0, 0, 4) & 0xFFFF);
        _pci.Out32(0, 0x8000_0000);
        _pci.Out32(4, 0xDEAD_BEEF); // vendor/device are read-only
        Assert.Equal(0x1237_8086u, _pci.In32(4));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        ConfigRead(0, 0, 0, 4);
        _pci.Out(4, 0x02);
        var b = new PciHostBridge();
        b.RestoreState(StateJson.RoundTrip(_pci.SaveState()));
        Assert.Equal(_pci.In32(0), b.In32(0));
        Assert.Equal(_pci.In32(4), b.In32(4));
    }
}
