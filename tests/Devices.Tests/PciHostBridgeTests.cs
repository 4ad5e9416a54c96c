using VmReplay.Devices.Pci;

namespace VmReplay.Devices.Tests;

public class PciHostBridgeTests
{
    private readonly PciHostBridge _pci = new();

    private static uint Address(int bus, int dev, int fn, int reg) => 0x8000_0000u | (uint)(bus << 16 | dev << 11 | fn << 8 | reg);

    private uint ConfigRead(int bus, int dev, int fn, int reg)
    {
        _pci.Out32(0, Address(bus, dev, fn, reg));
        return _pci.In32(4);
    }

    [Fact]
    public void HostBridgeEnumeratesAtBus0Device0()
    {
        Assert.Equal(0x1237_8086u, ConfigRead(0, 0, 0, 0x00));
        Assert.Equal(0x0600_0002u, ConfigRead(0, 0, 0, 0x08));        // class 06/00/00, revision 2
        Assert.Equal(0u, ConfigRead(0, 0, 0, 0x0C) >> 16 & 0xFF);      // header type 0, single function
        Assert.Equal(0x0280_0000u, ConfigRead(0, 0, 0, 0x04));         // status; command clear
    }

    [Fact]
    public void AbsentFunctionsReadAllOnesAndIgnoreWrites()
    {
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(0, 1, 0, 0));
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(0, 0, 1, 0));
        Assert.Equal(0xFFFF_FFFFu, ConfigRead(1, 0, 0, 0));
        _pci.Out32(4, 0);
        Assert.Equal(0xFFFF_FFFFu, _pci.In32(4));
        int found = 0;
        for (int bus = 0; bus < 2; bus++)
            for (int dev = 0; dev < 32; dev++)
                for (int fn = 0; fn < 8; fn++)
                    if ((ConfigRead(bus, dev, fn, 0) & 0xFFFF) != 0xFFFF) found++;
        Assert.Equal(1, found);
    }

    [Fact]
    public void EnableBitClearReadsAllOnesAndIgnoresWrites()
    {
        _pci.Out32(0, 0x0000_0004);
        Assert.Equal(0xFFFF_FFFFu, _pci.In32(4));
        _pci.Out16(4, 0x0006);
        Assert.Equal(0u, ConfigRead(0, 0, 0, 4) & 0xFFFF);
    }

    [Fact]
    public void ByteAndWordAccessesReachTheirBytesOfTheDword()
    {
        _pci.Out32(0, Address(0, 0, 0, 0));
        Assert.Equal(0x86, _pci.In(4));
        Assert.Equal(0x80, _pci.In(5));
        Assert.Equal(0x37, _pci.In(6));
        Assert.Equal(0x12, _pci.In(7));
        Assert.Equal(0x8086, _pci.In16(4));
        Assert.Equal(0x1237, _pci.In16(6));
        _pci.Out32(0, Address(0, 0, 0, 8));
        Assert.Equal(0x06, _pci.In(7)); // base class
        Assert.Equal(0x02, _pci.In(4)); // revision
    }

    [Fact]
    public void ConfigAddressIsLatchedOnlyByDwordWrites()
    {
        _pci.Out32(0, 0x8000_0004);
        Assert.Equal(0x8000_0004u, _pci.In32(0));
        _pci.Out(0, 0x00);            // byte and word writes are not CONFIG_ADDRESS
        _pci.Out16(2, 0x0000);
        Assert.Equal(0x8000_0004u, _pci.In32(0));
        Assert.Equal(0xFF, _pci.In(1)); // nor are narrow reads
        _pci.Out32(0, 0xFFFF_FFFF);
        Assert.Equal(0x80FF_FFFCu, _pci.In32(0)); // reserved bits 30:24 and 1:0 read 0
    }

    [Fact]
    public void LinuxType1ProbeSucceeds()
    {
        // arch/x86/pci/direct.c pci_check_type1: the address register must read back 0x80000000.
        _pci.Out(3, 0x01);
        _ = _pci.In32(0);
        _pci.Out32(0, 0x8000_0000);
        Assert.Equal(0x8000_0000u, _pci.In32(0));
    }

    [Fact]
    public void OnlyTheCommandRegistersImplementedBitsAndTheLatencyTimerAreWritable()
    {
        _pci.Out32(0, Address(0, 0, 0, 4));
        _pci.Out32(4, 0xFFFF_FFFF);
        Assert.Equal(0x0280_0146u, _pci.In32(4));
        _pci.Out(4, 0x00); // byte write of the command's low byte
        Assert.Equal(0x0100, _pci.In16(4));
        _pci.Out32(0, Address(0, 0, 0, 0x0C));
        _pci.Out(5, 0x40);
        _pci.Out(6, 0x80); // header type is read-only
        Assert.Equal(0x0000_4000u, _pci.In32(4));
        _pci.Out32(0, Address(0, 0, 0, 0));
        _pci.Out32(4, 0xDEAD_BEEF);
        Assert.Equal(0x1237_8086u, _pci.In32(4));
    }

    [Fact]
    public void AttachedFunctionsAreReachedAtTheirAddress()
    {
        var fn = new RecordingFunction();
        _pci.Attach(new PciAddress(0, 3, 1), fn);
        Assert.Equal(0xABCD_0010u, ConfigRead(0, 3, 1, 0x10));
        Assert.Equal(0x10, fn.LastRead);
        _pci.Out(6, 0x77); // byte 2 of register 0x10
        Assert.Equal(0x12, fn.LastWriteOffset);
        Assert.Equal([0x77], fn.LastWrite);
        Assert.Throws<InvalidOperationException>(() => _pci.Attach(new PciAddress(0, 3, 1), fn));
        Assert.Throws<InvalidOperationException>(() => _pci.Attach(new PciAddress(0, 0, 0), fn));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciAddress(0, 32, 0));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        _pci.Out32(0, Address(0, 0, 0, 4));
        _pci.Out(4, 0x02);
        _pci.Out32(0, Address(0, 0, 0, 0x0C));
        _pci.Out(5, 0x20);
        var b = new PciHostBridge();
        b.RestoreState(StateJson.RoundTrip(_pci.SaveState()));
        Assert.Equal(_pci.In32(0), b.In32(0));
        Assert.Equal(_pci.In32(4), b.In32(4));
        foreach (var reg in new[] { 0, 4, 8, 0x0C, 0x40 })
        {
            _pci.Out32(0, Address(0, 0, 0, reg));
            b.Out32(0, Address(0, 0, 0, reg));
            Assert.Equal(_pci.In32(4), b.In32(4));
        }
    }

    private sealed class RecordingFunction : IPciFunction
    {
        public int LastRead = -1, LastWriteOffset = -1;
        public byte[] LastWrite = [];

        public uint ReadConfig(int register)
        {
            LastRead = register;
            return 0xABCD_0000u | (uint)register;
        }

        public void WriteConfig(int offset, ReadOnlySpan<byte> data)
        {
            LastWriteOffset = offset;
            LastWrite = data.ToArray();
        }
    }

    [Fact]
    public void DescribeDecodesConfigAddress()
    {
        Assert.Equal("CONFIG_ADDRESS 00000000 (disabled); host bridge 00:00.0 PCICMD 0000, latency timer 00", new PciHostBridgeState().Describe());
        Assert.Equal("CONFIG_ADDRESS 8000f804 (00:1f.0 register 04); host bridge 00:00.0 PCICMD 0006, latency timer 20",
            new PciHostBridgeState { ConfigAddress = 0x8000_F804, BridgeCommand = 0x0006, BridgeLatencyTimer = 0x20 }.Describe());
    }
}
