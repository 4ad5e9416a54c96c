using VmReplay.Devices.Serial;

namespace VmReplay.Devices.Tests;

public class Uart16550Tests
{
    // Offsets and values from the PC16550D register summary.
    private const ulong Data = 0, Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;
    private const byte Out2 = 0x08, Loop = 0x10;

    private readonly FakeInput _input = new();
    private readonly FakeIrq _irq = new();
    private readonly List<byte> _output = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests() => _uart = new Uart16550(_input, _output.Add, _irq);

    private void EnableInterrupts(byte ier)
    {
        _uart.Out(Mcr, Out2);
        _uart.Out(Ier, ier);
    }

    private List<byte> Drain(Uart16550 uart)
    {
        var received = new List<byte>();
        while ((uart.In(Lsr) & 1) != 0) received.Add(uart.In(Data));
        return received;
    }

    [Fact]
    public void DivisorLatchSharesOffsetsZeroAndOneBehindDlab()
    {
        _uart.Out(Lcr, 0x80);
        _uart.Out(Data, 0x0C);
        _uart.Out(Ier, 0x01);
        Assert.Equal(0x0C, _uart.In(Data));
        Assert.Equal(0x01, _uart.In(Ier));
        Assert.Empty(_output); // a DLL write is not a transmission
        _uart.Out(Lcr, 0x03);
        Assert.Equal(0x03, _uart.In(Lcr));
        Assert.Equal(0x00, _uart.In(Ier)); // IER, untouched by the DLM write
        _uart.Out(Data, (byte)'x');
        Assert.Equal("x"u8.ToArray(), _output);
        _uart.Out(Lcr, 0x83);
        Assert.Equal(0x0C, _uart.In(Data)); // the latch kept its value
    }

    [Fact]
    public void IerKeepsOnlyItsFourBitsAndScratchKeepsAll()
    {
        _uart.Out(Ier, 0xFF);
        Assert.Equal(0x0F, _uart.In(Ier));
        _uart.Out(Scr, 0xA5);
        Assert.Equal(0xA5, _uart.In(Scr));
        _uart.Out(Mcr, 0xFF);
        Assert.Equal(0x1F, _uart.In(Mcr));
    }

    [Fact]
    public void LineStatusReportsDataReadyAndAnAlwaysEmptyTransmitter()
    {
        Assert.Equal(0x60, _uart.In(Lsr)); // THRE | TEMT
        _input.Bytes.Enqueue(0x41);
        Assert.Equal(0x61, _uart.In(Lsr)); // the LSR read took the byte in: DR
        Assert.Equal(0x41, _uart.In(Data));
        Assert.Equal(0x60, _uart.In(Lsr));
        _uart.Out(Data, 1);
        Assert.Equal(0x60, _uart.In(Lsr)); // transmission is instantaneous
    }

    [Fact]
    public void ReadingAnEmptyReceiverReturnsZeroAndKeepsDataReadyClear()
    {
        Assert.Equal(0, _uart.In(Data));
        Assert.Equal(0, _uart.In(Lsr) & 1);
    }

    [Fact]
    public void FifoKeepsOrderAndGuestPacedInputLosesNothing()
    {
        _uart.Out(Fcr, 0x07); // FIFOs on and cleared
        for (int i = 0; i < 40; i++) _input.Bytes.Enqueue((byte)i);
        _uart.PollInput();
        Assert.Equal(0, _input.Calls); // receive interrupts off and no read: nothing is taken
        EnableInterrupts(0x01);
        _uart.PollInput();
        Assert.Equal(24, _input.Bytes.Count); // 16 taken: the FIFO is full
        Assert.Equal(16, _uart.ReceiveCount);
        int callsWhenFull = _input.Calls;
        _uart.PollInput();
        _uart.In(Lsr);
        _uart.In(Iir);
        Assert.Equal(callsWhenFull, _input.Calls); // no read attempted while the FIFO is full
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (byte)i), Drain(_uart));
        Assert.Equal(0, _uart.In(Lsr) & 0x02); // and no overrun
    }

    [Fact]
    public void WithoutFifosTheReceiverHoldsOneByte()
    {
        _input.Bytes.Enqueue(1);
        _input.Bytes.Enqueue(2);
        Assert.Equal(0x61, _uart.In(Lsr));
        Assert.Single(_input.Bytes);
        Assert.Equal(1, _uart.In(Data)); // the read makes room and takes the next byte at once
        Assert.Empty(_input.Bytes);
        Assert.Equal(2, _uart.In(Data));
    }

    [Fact]
    public void FifoControlNeedsBitZeroAndClearsTheReceiverOnModeChange()
    {
        _uart.Out(Fcr, 0x01);
        Assert.Equal(0xC1, _uart.In(Iir)); // FIFOs enabled: bits 6-7 set
        _input.Bytes.Enqueue(1);
        _input.Bytes.Enqueue(2);
        _uart.In(Lsr);
        _uart.Out(Fcr, 0x03); // receiver FIFO reset
        Assert.Equal(0, _uart.ReceiveCount);
        _input.Bytes.Enqueue(3);
        _uart.In(Lsr);
        _uart.Out(Fcr, 0xC0); // bit 0 clear: FIFOs off (and cleared); the trigger bits are not programmed
        Assert.Equal(0, _uart.ReceiveCount);
        Assert.Equal(0x01, _uart.In(Iir));
        Assert.Equal(1, _uart.SaveState().TriggerLevel);
    }

    [Fact]
    public void ReceivedDataInterruptHonoursTheTriggerLevel()
    {
        _uart.Out(Fcr, 0x41); // FIFOs, trigger level 4
        EnableInterrupts(0x01);
        _input.Bytes.Enqueue(1);
        _input.Bytes.Enqueue(2);
        _uart.PollInput();
        Assert.True(_irq.Level);
        Assert.Equal(0xCC, _uart.In(Iir)); // below the trigger: character timeout, given at once
        _input.Bytes.Enqueue(3);
        _input.Bytes.Enqueue(4);
        _uart.PollInput();
        Assert.Equal(0xC4, _uart.In(Iir)); // trigger level reached: received data available
        _uart.In(Data);
        Assert.Equal(0xCC, _uart.In(Iir)); // below the trigger again
        Drain(_uart);
        Assert.False(_irq.Level);
        Assert.Equal(0xC1, _uart.In(Iir));
    }

    [Theory]
    [InlineData(0x01, 1)]
    [InlineData(0x41, 4)]
    [InlineData(0x81, 8)]
    [InlineData(0xC1, 14)]
    public void TriggerLevels(byte fcr, int level)
    {
        _uart.Out(Fcr, fcr);
        EnableInterrupts(0x01);
        for (int i = 0; i < level - 1; i++) _input.Bytes.Enqueue((byte)i);
        _uart.PollInput();
        if (level > 1) Assert.Equal(0xCC, _uart.In(Iir));
        _input.Bytes.Enqueue(0xFF);
        _uart.PollInput();
        Assert.Equal(0xC4, _uart.In(Iir));
    }

    [Fact]
    public void TransmitterEmptyInterruptIsRaisedByEnablingAndClearedByReadingIir()
    {
        EnableInterrupts(0x02); // enabling THRE while THR is empty raises it
        Assert.True(_irq.Level);
        Assert.Equal(0x02, _uart.In(Iir)); // reading IIR with THRE as the source clears it
        Assert.False(_irq.Level);
        Assert.Equal(0x01, _uart.In(Iir));
        _uart.Out(Ier, 0x02); // still enabled: no change, no new interrupt
        Assert.False(_irq.Level);
        _uart.Out(Data, (byte)'a'); // THR empties again at once
        Assert.True(_irq.Level);
        _uart.Out(Ier, 0x00);
        Assert.False(_irq.Level);
    }

    [Fact]
    public void EveryTransmittedByteGivesTheEdgeTriggeredPicANewEdge()
    {
        EnableInterrupts(0x02);
        Assert.Equal(1, _irq.RisingEdges);
        // A driver that writes THR without reading IIR first: the write clears THRE and the byte's
        // departure sets it again, so the line falls and rises for each byte.
        _uart.Out(Data, 1);
        _uart.Out(Data, 2);
        Assert.Equal(3, _irq.RisingEdges);
        Assert.True(_irq.Level);
        Assert.Equal([1, 2], _output);
    }

    [Fact]
    public void InterruptPriorityLineStatusThenDataThenThreThenModemStatus()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, Loop | Out2);
        _uart.Out(Ier, 0x0F);
        for (byte i = 0; i < 17; i++) _uart.Out(Data, i); // 17 into a 16-byte FIFO: overrun
        Assert.Equal(0x06, _uart.In(Iir) & 0x0F);         // receiver line status first
        Assert.Equal(0x02, _uart.In(Lsr) & 0x02);         // OE, cleared by this read
        Assert.Equal(0x04, _uart.In(Iir) & 0x0F);         // then received data
        Drain(_uart);
        Assert.Equal(0x02, _uart.In(Iir) & 0x0F);         // then THRE (cleared by this read)
        Assert.Equal(0x00, _uart.In(Iir) & 0x0F);         // then modem status (loopback MCR changes)
        _uart.In(Msr);
        Assert.Equal(0x01, _uart.In(Iir) & 0x0F);
    }

    [Fact]
    public void OverrunWithoutFifoKeepsTheNewestByte()
    {
        _uart.Out(Mcr, Loop);
        _uart.Out(Data, 1);
        _uart.Out(Data, 2);
        Assert.Equal(0x63, _uart.In(Lsr)); // DR, OE, THRE, TEMT
        Assert.Equal(2, _uart.In(Data));
        Assert.Equal(0x60, _uart.In(Lsr)); // OE cleared by the previous LSR read
    }

    [Fact]
    public void OverrunWithFifoLosesTheByteThatDidNotFit()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, Loop);
        for (byte i = 0; i < 18; i++) _uart.Out(Data, i);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (byte)i), Drain(_uart));
    }

    [Fact]
    public void Out2GatesTheIrqLine()
    {
        _uart.Out(Ier, 0x02);
        Assert.False(_irq.Level); // THRE pending, but OUT2 low
        Assert.Equal(0x02, _uart.In(Iir) & 0x0F);
        _uart.Out(Ier, 0x00);
        _uart.Out(Ier, 0x02);
        _uart.Out(Mcr, Out2);
        Assert.True(_irq.Level);
        _uart.Out(Mcr, 0x00);
        Assert.False(_irq.Level);
    }

    [Fact]
    public void LoopbackForcesTheOut2PinInactiveSoTheIrqStaysLow()
    {
        _uart.Out(Mcr, Loop | Out2);
        _uart.Out(Ier, 0x02);
        Assert.Equal(0x02, _uart.In(Iir) & 0x0F); // the interrupt is there inside the chip
        _uart.Out(Ier, 0x00);
        _uart.Out(Ier, 0x02);
        Assert.False(_irq.Level);
        _uart.Out(Mcr, Out2);
        Assert.True(_irq.Level);
    }

    [Fact]
    public void LoopbackReflectsModemControlAndTransmittedBytes()
    {
        _input.Bytes.Enqueue(0x99);
        _uart.Out(Mcr, Loop | 0x03); // DTR, RTS
        Assert.Equal(0x30, _uart.In(Msr) & 0xF0); // CTS from RTS, DSR from DTR
        _uart.Out(Data, 0x5A);
        Assert.Empty(_output);
        Assert.Equal(0x61, _uart.In(Lsr));
        Assert.Equal(0x5A, _uart.In(Data));
        Assert.Equal(0, _uart.In(Lsr) & 1);       // the line is disconnected: host input stays queued
        Assert.Single(_input.Bytes);
        _uart.Out(Mcr, Loop | 0x0C);              // OUT1 -> RI, OUT2 -> DCD; DTR and RTS drop
        Assert.Equal(0xCB, _uart.In(Msr));        // RI, DCD; DCTS, DDSR, DDCD
        Assert.Equal(0xC0, _uart.In(Msr));        // deltas cleared by the read
        _uart.Out(Mcr, Loop);                     // RI and DCD go inactive
        Assert.Equal(0x0C, _uart.In(Msr));        // TERI (RI's trailing edge), DDCD
    }

    [Fact]
    public void OutsideLoopbackTheModemLinesShowAConnectedPeer()
    {
        Assert.Equal(0xB0, _uart.In(Msr)); // DCD, DSR, CTS; no ring
    }

    [Fact]
    public void PollInputDrivesTheReceiveInterrupt()
    {
        EnableInterrupts(0x01);
        Assert.False(_irq.Level);
        _input.Bytes.Enqueue(7);
        _uart.PollInput();
        Assert.True(_irq.Level);
        Assert.Equal(0x04, _uart.In(Iir));
        Assert.Equal(7, _uart.In(Data));
        Assert.False(_irq.Level);
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        _uart.Out(Lcr, 0x80);
        _uart.Out(Data, 0x01);
        _uart.Out(Lcr, 0x03);
        _uart.Out(Fcr, 0x47);
        EnableInterrupts(0x0F);
        _uart.Out(Scr, 0x5C);
        for (byte i = 0; i < 5; i++) _input.Bytes.Enqueue(i);
        _uart.In(Lsr);
        _uart.In(Data);

        var state = _uart.SaveState();
        var inputB = new FakeInput(_input.Bytes.ToArray());
        var irqB = new FakeIrq();
        var outB = new List<byte>();
        var b = new Uart16550(inputB, outB.Add, irqB);
        b.RestoreState(StateJson.RoundTrip(state));
        Assert.Equal(state.RxFifo, b.SaveState().RxFifo);
        Assert.Equal(_irq.Level, irqB.Level);

        // The same accesses give the same results on both.
        var script = new (bool Write, ulong Offset, byte Value)[]
        {
            (false, Iir, 0), (false, Lsr, 0), (false, Data, 0), (true, Data, 9), (false, Iir, 0), (false, Iir, 0),
            (true, Mcr, Loop | Out2), (false, Msr, 0), (true, Data, 0x42), (false, Data, 0), (false, Lsr, 0),
            (false, Scr, 0), (false, Ier, 0), (true, Lcr, 0x83), (false, Data, 0), (false, Ier, 0),
        };
        foreach (var (write, offset, value) in script)
        {
            if (write)
            {
                _uart.Out(offset, value);
                b.Out(offset, value);
            }
            else
            {
                Assert.Equal(_uart.In(offset), b.In(offset));
            }
            Assert.Equal(_irq.Level, irqB.Level);
        }
        Assert.Equal(_output, outB);
        Assert.Equal(_uart.SaveState().RxFifo, b.SaveState().RxFifo);
    }

    [Fact]
    public void DescribeGivesBaudLineFormatAndThePendingInterrupt()
    {
        var state = new Uart16550State
        {
            Dll = 12, Lcr = 0x13, Ier = 0x05, Mcr = 0x0B, ModemInputs = 0x0B, FifoEnabled = true, TriggerLevel = 8, ThrEmptyPending = true,
        };
        Assert.Equal(
            "divisor 12 (9600 baud), LCR 13 (8N1), IER 05 (RX data, line status), MCR 0b (DTR, RTS, OUT2), SCR 00, MSR b0\n" +
            "FIFO on (trigger 8), RX FIFO empty, no interrupt pending (IIR c1)",
            state.Describe());
        var busy = state with { Dll = 7, Lcr = 0x9E, Ier = 0x03, RxFifo = [0x41, 0x0A] };
        Assert.Equal(
            "divisor 7 (~16457 baud), LCR 9e (7E2, DLAB), IER 03 (RX data, THR empty), MCR 0b (DTR, RTS, OUT2), SCR 00, MSR b0\n" +
            "FIFO on (trigger 8), RX FIFO holds 41 0a, character timeout interrupt pending (IIR cc, IRQ line up)",
            busy.Describe());
        var noFifo = state with { Lcr = 0x38, Ier = 0x02, Mcr = 0x13, FifoEnabled = false };
        Assert.Equal(
            "divisor 12 (9600 baud), LCR 38 (5S1), IER 02 (THR empty), MCR 13 (DTR, RTS, LOOP), SCR 00, MSR b0\n" +
            "FIFO off, RBR empty, THR-empty interrupt pending (IIR 02, IRQ line held low (OUT2 off or loopback))",
            noFifo.Describe());
    }
}
