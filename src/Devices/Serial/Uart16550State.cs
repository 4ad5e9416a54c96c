namespace VmReplay.Devices.Serial;

/// <summary>Complete state of a <see cref="Uart16550"/>.</summary>
public sealed record Uart16550State
{
    public byte Dll { get; init; }
    public byte Dlm { get; init; }
    public byte Ier { get; init; }
    public byte Lcr { get; init; }
    public byte Mcr { get; init; }
    public byte Scr { get; init; }

    /// <summary>MSR bits 0-3 (DCTS, DDSR, TERI, DDCD), cleared by an MSR read.</summary>
    public byte MsrDeltas { get; init; }

    /// <summary>The modem inputs as last sampled (MSR bits 4-7, shifted down), to detect changes.</summary>
    public byte ModemInputs { get; init; }

    public bool FifoEnabled { get; init; }

    /// <summary>Receive trigger level: 1, 4, 8 or 14.</summary>
    public int TriggerLevel { get; init; } = 1;

    public bool Overrun { get; init; }

    /// <summary>The THRE interrupt is pending (cleared by an IIR read that reports it or a THR write).</summary>
    public bool ThrEmptyPending { get; init; }

    /// <summary>Received bytes not yet read, oldest first.</summary>
    public byte[] RxFifo { get; init; } = [];

    /// <summary>
    /// The UART in PC16550D terms, on two lines: the divisor latch with the baud rate it gives
    /// from the PC's 1.8432 MHz crystal (115200 / divisor), LCR as a line format ("8N1"), IER, MCR,
    /// SCR and MSR in hex with their bits named; then the FIFO, what the receiver holds, and the
    /// interrupt IIR would report now.
    /// </summary>
    public string Describe()
    {
        int divisor = Dlm << 8 | Dll;
        string baud = divisor == 0 ? "not set" : 115_200 % divisor == 0 ? $"{115_200 / divisor} baud" : $"~{115_200.0 / divisor:0} baud";
        string extra = (Lcr & 0x40) != 0 ? ", break" : "";
        extra += (Lcr & 0x80) != 0 ? ", DLAB" : "";
        string line1 = $"divisor {divisor} ({baud}), LCR {Lcr:x2} ({LineFormat(Lcr)}{extra}), IER {Ier:x2}{Bits(Ier, IerBits)}, " +
                       $"MCR {Mcr:x2}{Bits(Mcr, McrBits)}, SCR {Scr:x2}, MSR {ModemInputs << 4 | MsrDeltas:x2}";
        string fifo = FifoEnabled ? $"FIFO on (trigger {TriggerLevel})" : "FIFO off";
        string rx = RxFifo.Length == 0
            ? FifoEnabled ? "RX FIFO empty" : "RBR empty"
            : $"{(FifoEnabled ? "RX FIFO" : "RBR")} holds {string.Join(" ", RxFifo.Select(b => b.ToString("x2")))}";
        string overrun = Overrun ? ", overrun (LSR.OE)" : "";
        return $"{line1}\n{fifo}, {rx}{overrun}, {Pending()}";
    }

    // PC16550D "Interrupt Enable Register" and "MODEM Control Register", bit 0 first.
    private static readonly string[] IerBits = ["RX data", "THR empty", "line status", "modem status"];
    private static readonly string[] McrBits = ["DTR", "RTS", "OUT1", "OUT2", "LOOP"];

    private static string Bits(byte value, string[] names)
    {
        var set = names.Where((_, i) => (value & 1 << i) != 0).ToList();
        return set.Count == 0 ? "" : $" ({string.Join(", ", set)})";
    }

    // LCR bits 0-1 word length 5-8; bit 2 stop bits (1.5 with 5-bit words); bits 3-5 parity
    // enable, even select and stick parity (stick: mark when EPS is 0, space when 1).
    private static string LineFormat(byte lcr)
    {
        int bits = 5 + (lcr & 3);
        char parity = (lcr & 0x08) == 0 ? 'N' : (lcr & 0x20) != 0 ? ((lcr & 0x10) != 0 ? 'S' : 'M') : ((lcr & 0x10) != 0 ? 'E' : 'O');
        string stop = (lcr & 0x04) == 0 ? "1" : bits == 5 ? "1.5" : "2";
        return $"{bits}{parity}{stop}";
    }

    // The source the UART would identify now, worked out as Uart16550 does.
    private string Pending()
    {
        byte source = Uart16550.Identify(Ier, Overrun, RxFifo.Length, FifoEnabled, TriggerLevel, ThrEmptyPending, MsrDeltas);
        string what = source switch
        {
            Uart16550.IirRls => "line status",
            Uart16550.IirTimeout => "character timeout",
            Uart16550.IirRda => "received data",
            Uart16550.IirThre => "THR-empty",
            Uart16550.IirMs => "modem status",
            _ => "",
        };
        int iir = source | (FifoEnabled ? Uart16550.IirFifosEnabled : 0);
        string line = Uart16550.IrqLineUp(source, Mcr) ? "IRQ line up" : "IRQ line held low (OUT2 off or loopback)";
        return what == "" ? $"no interrupt pending (IIR {iir:x2})" : $"{what} interrupt pending (IIR {iir:x2}, {line})";
    }
}
