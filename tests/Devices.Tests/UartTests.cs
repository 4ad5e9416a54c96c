using VmReplay.Devices.Serial;

namespace VmReplay.Devices.Tests;

public class UartTests
{
    private readonly FakeInput _input = new();
    private readonly FakeIrq _irq = new();
    private readonly List<byte> _output = new();
    private readonly Uart16550 _uart;

    public UartTests() => _uart = new Uart16550(_input, _output.Add, _irq);

    private void EnableIrqs(byte ier)
    {
        _uart.Out(4, 0x08); // OUT2 gates the IRQ on a PC
        _uart.Out(1, ier);
    }

    [Fact]
    public void DivisorLatchIsBehindDlab()
    {
        _uart.Out(3, 0x80);
        _uart.Out(0, 0x0C);
        _uart.Out(1, 0x00);
        Assert.Equal(0x0C, _uart.In(0));
        _uart.Out(3, 0x03);
        Assert.Equal(0x03, _uart.In(3));
        Assert.Equal(0x00, _uart.In(1)); // IER, not DLM
        _uart.Out(0, (byte)'x');
        Assert.Equal("x"u8.ToArray(), _output);
    }

    [Fact]
    public void LineStatusReportsDataAndEmptyTransmitter()
    {
        Assert.Equal(0x60, _uart.In(5)); // THRE | TEMT, no data
        _input.Bytes.Enqueue(0x41);
        Assert.Equal(0x61, _uart.In(5));
        Assert.Equal(0x41, _uart.In(0));
        Assert.Equal(0x60, _uart.In(5));
    }

    [Fact]
    public void FifoKeepsOrderAndGuestPacedInputLosesNothing()
    {
        _uart.Out(2, 0x07); // FIFOs on and cleared
        for (int i = 0; i < 40; i++) _input.Bytes.Enqueue((byte)i);
        _uart.PollInput();
        Assert.Equal(0, _input.Calls); // nobody asked yet: receive interrupts off, no read
        EnableIrqs(0x01);
        _uart.PollInput();
        Assert.Equal(24, _input.Bytes.Count); // only 16 taken: the FIFO is full
        int callsWhenFull = _input.Calls;
        _uart.PollInput();
        Assert.Equal(callsWhenFull, _input.Calls); // no read attempted while full
        var received = new List<byte>();
        while ((_uart.In(5) & 1) != 0) received.Add(_uart.In(0));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (byte)i), received);
    }

    [Fact]
    public void WithoutFifoOnlyOneByteIsHeld()
    {
        _input.Bytes.Enqueue(1); _input.Bytes.Enqueue(2);
        Assert.Equal(0x61, _uart.In(5)); // a polling guest's LSR read takes one byte
        Assert.Single(_input.Bytes);
    }

    [Fact]
    public void ReceiveDataInterruptHonoursTheTriggerLevel()
    {
        _uart.Out(2, 0x47); // FIFO, trigger 4
        EnableIrqs(0x01);
        _input.Bytes.Enqueue(1); _input.Bytes.Enqueue(2);
        _uart.PollInput();
        Assert.True(_irq.Level);
        Assert.Equal(0xCC, _uart.In(2)); // below the trigger: character timeout, FIFOs enabled bits
        _input.Bytes.Enqueue(3); _input.Bytes.Enqueue(4);
        _uart.PollInput();
        Assert.Equal(0xC4, _uart.In(2)); // received data available
        while ((_uart.In(5) & 1) != 0) _uart.In(0);
        Assert.False(_irq.Level);
        Assert.Equal(0xC1, _uart.In(2));
    }

    [Fact]
    public void TransmitterEmptyInterruptSetAndClear()
    {
        EnableIrqs(0x02); // enabling THRE with THR empty raises it
        Assert.True(_irq.Level);
        Assert.Equal(0x02, _uart.In(2)); // reading IIR with THRE as the source clears it
        Assert.False(_irq.Level);
        _uart.Out(0, (byte)'a');          // the byte leaves at once: THRE again
        Assert.True(_irq.Level);
        _uart.Out(1, 0x00);
        Assert.False(_irq.Level);
    }

    [Fact]
    public void InterruptPriorityLineStatusOverDataOverThre()
    {
        EnableIrqs(0x07);
        _input.Bytes.Enqueue(1);
        _uart.PollInput();
        Assert.Equal(0x04, _uart.In(2)); // data outranks THRE
        _uart.In(0);
        Assert.Equal(0x02, _uart.In(2));
    }

    [Fact]
    public void Out2GatesTheIrqLine()
    {
        _uart.Out(1, 0x02);
        Assert.False(_irq.Level);
        _uart.Out(4, 0x08);
        Assert.True(_irq.Level);
    }

    [Fact]
    public void LoopbackReflectsModemControlAndTransmittedBytes()
    {
        _uart.Out(4, 0x10 | 0x03); // loop, DTR, RTS
        byte msr = _uart.In(6);
        Assert.Equal(0x30, msr & 0xF0); // CTS (from RTS), DSR (from DTR)
        _uart.Out(0, 0x5A);
        Assert.Empty(_output);
        Assert.Equal(0x5A, _uart.In(0));
        _uart.Out(4, 0x10);
        Assert.Equal(0x03, _uart.In(6) & 0x0F); // delta CTS, delta DSR
        Assert.Equal(0x00, _uart.In(6) & 0x0F); // cleared by the read
    }

    [Fact]
    public void ScratchRegister()
    {
        _uart.Out(7, 0xA5);
        Assert.Equal(0xA5, _uart.In(7));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        _uart.Out(2, 0x87);
        EnableIrqs(0x03);
        for (byte i = 0; i < 5; i++) _input.Bytes.Enqueue(i);
        _uart.In(5);
        _uart.In(0);
        var inputB = new FakeInput();
        var irqB = new FakeIrq();
        var outB = new List<byte>();
        var b = new Uart16550(inputB, outB.Add, irqB);
        b.RestoreState(StateJson.RoundTrip(_uart.SaveState()));
        Assert.Equal(_irq.Level, irqB.Level);
        for (int r = 0; r < 8; r++) Assert.Equal(_uart.In((ulong)r), b.In((ulong)r));
        _uart.Out(0, 9); b.Out(0, 9);
        Assert.Equal(_output, outB);
    }
}
