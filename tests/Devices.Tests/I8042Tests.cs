using VmReplay.Devices.Legacy;

namespace VmReplay.Devices.Tests;

public class I8042Tests
{
    private int _resets;
    private readonly I8042 _kbc;

    public I8042Tests() => _kbc = new I8042(() => _resets++);

    private byte Status => _kbc.CommandPort.In(0);

    private void Command(byte c) => _kbc.CommandPort.Out(0, c);

    private byte ReadData() => _kbc.DataPort.In(0);

    private void WriteData(byte v) => _kbc.DataPort.Out(0, v);

    [Fact]
    public void StatusAfterFirmware()
    {
        Assert.Equal(0x14, Status); // system flag, keyboard not inhibited; buffers empty
    }

    [Fact]
    public void SelfTestAnswers55ThroughTheOutputBuffer()
    {
        Command(0xAA);
        Assert.Equal(0x01, Status & 0x01); // output buffer full
        Assert.Equal(0x08, Status & 0x08); // last write was a command
        Assert.Equal(0x55, ReadData());
        Assert.Equal(0x00, Status & 0x01);
        Assert.Equal(0x55, ReadData()); // the buffer keeps its byte; only OBF clears
    }

    [Fact]
    public void InterfaceTestsPass()
    {
        Command(0xAB);
        Assert.Equal(0x00, ReadData());
        Command(0xA9);
        Assert.Equal(0x00, ReadData());
    }

    [Fact]
    public void ConfigurationByteReadWriteAndSystemFlag()
    {
        Command(0x20);
        Assert.Equal(0x45, ReadData());
        Command(0x60);
        WriteData(0x40); // system flag clear
        Assert.Equal(0x00, Status & 0x08);
        Assert.Equal(0x00, Status & 0x04);
        Command(0x20);
        Assert.Equal(0x40, ReadData());
    }

    [Fact]
    public void DisableAndEnableKeyboardAndAux()
    {
        Command(0xAD);
        Command(0xA7);
        Command(0x20);
        Assert.Equal(0x45 | 0x10 | 0x20, ReadData());
        Command(0xAE);
        Command(0xA8);
        Command(0x20);
        Assert.Equal(0x45, ReadData());
    }

    [Fact]
    public void InternalRamIsAddressedByTheCommandsLowBits()
    {
        Command(0x65);
        WriteData(0x99);
        Command(0x25);
        Assert.Equal(0x99, ReadData());
    }

    [Fact]
    public void OutputPortReadsBackAndAuxLoopbackSetsTheAuxBit()
    {
        Command(0xD0);
        Assert.Equal(0x03, ReadData()); // reset line inactive, A20 on
        Command(0xD1);
        WriteData(0x01);                // A20 off, no reset
        Assert.Equal(0, _resets);
        Command(0xD0);
        Assert.Equal(0x01, ReadData());
        Command(0xD3);
        WriteData(0x5A);
        Assert.Equal(0x21, Status & 0x21);
        Assert.Equal(0x5A, ReadData());
        Assert.Equal(0x00, Status & 0x21);
    }

    [Fact]
    public void ResetCommandsPulseTheResetLine()
    {
        Command(0xFE);
        Assert.Equal(1, _resets);
        Command(0xFF); // pulse nothing
        Assert.Equal(1, _resets);
        Command(0xF0); // pulse bits 0-3, including reset
        Assert.Equal(2, _resets);
        Command(0xD1);
        WriteData(0xFE); // output port bit 0 low: reset
        Assert.Equal(3, _resets);
    }

    [Fact]
    public void BytesForTheAbsentKeyboardGetNoAnswer()
    {
        WriteData(0xFF); // keyboard reset
        Assert.Equal(0x00, Status & 0x01);
        Assert.Equal(0, _resets);
    }

    [Fact]
    public void ACommandCancelsOneWaitingForItsData()
    {
        Command(0xD1);
        Command(0xAA);
        WriteData(0x00); // no longer the output port: no reset
        Assert.Equal(0, _resets);
        Assert.Equal(0x55, ReadData());
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        Command(0x60);
        WriteData(0x47);
        Command(0xAA);
        Command(0xD1); // waiting for its data byte
        int resetsB = 0;
        var b = new I8042(() => resetsB++);
        b.RestoreState(StateJson.RoundTrip(_kbc.SaveState()));
        Assert.Equal(Status, b.CommandPort.In(0));
        Assert.Equal(ReadData(), b.DataPort.In(0));
        WriteData(0x02);
        b.DataPort.Out(0, 0x02);
        Assert.Equal(_resets, resetsB);
        Assert.Equal(1, resetsB);
        foreach (byte c in new byte[] { 0x20, 0xD0 })
        {
            Command(c);
            b.CommandPort.Out(0, c);
            Assert.Equal(Status, b.CommandPort.In(0));
            Assert.Equal(ReadData(), b.DataPort.In(0));
        }
    }

    [Fact]
    public void DescribeNamesTheConfigurationByteAndOutputPort()
    {
        var ram = new byte[32];
        ram[0] = 0x45;
        Assert.Equal("config 45 (keyboard IRQ, system flag, translation), output port 03 (reset line high, A20 on), output buffer empty, last write to data port",
            new I8042State { Ram = ram, OutputPort = 0x03 }.Describe());
        Assert.Equal("config 45 (keyboard IRQ, system flag, translation), output port 01 (reset line high, A20 off), output buffer full: 55, command d1 waits for its data byte, last write to command port",
            new I8042State { Ram = ram, OutputPort = 0x01, OutputFull = true, OutputBuffer = 0x55, PendingCommand = 0xD1, LastWriteWasCommand = true }.Describe());
    }
}
