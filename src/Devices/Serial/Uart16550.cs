using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Serial;

/// <summary>
/// A 16550A UART (National Semiconductor PC16550D datasheet, "Registers") seen
/// through offsets 0-7: RBR/THR/DLL, IER/DLM, IIR/FCR, LCR, MCR, LSR, MSR, SCR, with 16-byte
/// FIFOs and the four interrupt sources in datasheet priority.
/// </summary>
/// <remarks>
/// <para>Transmission is instantaneous: a byte written to THR goes straight to the output sink
/// (or, in loopback, to the receiver), so THR and the transmitter are always empty again by the
/// time the guest looks (LSR.THRE and LSR.TEMT always read 1).</para>
/// <para>Reception is guest-paced: bytes are taken from <see cref="ISerialInput"/> only while the
/// receiver has room (16 bytes with FIFOs, 1 without), when the guest reads RBR, LSR or IIR and
/// when the VMM calls <see cref="PollInput"/>. Nothing is ever dropped on the host side, and
/// overrun can only happen in loopback.</para>
/// <para>There is no per-character time, so the FIFO character-timeout indication (IIR 0xC) is
/// given at once for data below the trigger level, as if four character times had passed.</para>
/// <para>The IRQ line carries the INTR output gated by the OUT2 pin, as PC boards wire it. In
/// loopback the modem-control output pins are forced inactive (PC16550D MCR bit 4), so OUT2
/// cannot enable the IRQ buffer and the line stays low.</para>
/// </remarks>
public sealed class Uart16550 : IBusDevice, IStatefulDevice<Uart16550State>
{
    // PC16550D Table II (register summary): offsets, with LCR.DLAB selecting DLL/DLM at 0/1.
    private const int RegData = 0, RegIer = 1, RegIir = 2, RegLcr = 3, RegMcr = 4, RegLsr = 5, RegMsr = 6, RegScr = 7;

    // PC16550D "Interrupt Enable Register".
    private const byte IerRda = 0x01, IerThre = 0x02, IerRls = 0x04, IerMs = 0x08;

    // PC16550D "FIFO Control Register".
    private const byte FcrEnable = 0x01, FcrRxReset = 0x02;

    // PC16550D "Line Control Register" bit 7.
    private const byte LcrDlab = 0x80;

    // PC16550D "MODEM Control Register"; bits 5-7 are always 0.
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10, McrWritable = 0x1F;

    // PC16550D "Line Status Register".
    private const byte LsrDr = 0x01, LsrOe = 0x02, LsrThre = 0x20, LsrTemt = 0x40;

    // PC16550D Table IV (interrupt control functions): IIR codes, highest priority first;
    // bits 6-7 read 1 with FIFOs enabled.
    internal const byte IirRls = 0x06, IirRda = 0x04, IirTimeout = 0x0C, IirThre = 0x02, IirMs = 0x00, IirNone = 0x01;
    internal const byte IirFifosEnabled = 0xC0;

    // PC16550D "MODEM Status Register": the inputs in bits 4-7 (CTS, DSR, RI, DCD), deltas in bits 0-3.
    private const byte InCts = 0x1, InDsr = 0x2, InRi = 0x4, InDcd = 0x8;

    private const int FifoSize = 16;

    private readonly ISerialInput _input;
    private readonly Action<byte> _output;
    private readonly IIrqLine _irq;
    private readonly Queue<byte> _rx = new();
    private byte _dll, _dlm, _ier, _lcr, _mcr, _scr;
    private byte _msrDeltas, _modemInputs;
    private bool _fifoEnabled, _overrun, _thrEmptyPending, _irqLevel;
    private int _triggerLevel = 1;

    /// <param name="input">Host input; read only while the receiver has room.</param>
    /// <param name="output">Receives every byte the guest transmits (outside loopback), synchronously.</param>
    /// <param name="irq">The COM port's IRQ wire (IRQ 4 for COM1).</param>
    public Uart16550(ISerialInput input, Action<byte> output, IIrqLine irq)
    {
        _input = input;
        _output = output;
        _irq = irq;
        _modemInputs = ModemInputs();
    }

    /// <summary>
    /// Takes host input that may have arrived while the guest ran, up to the receiver's room, if
    /// the guest enabled the received-data interrupt. A polling guest takes bytes with its own
    /// LSR/RBR reads instead, so nothing is pulled into a FIFO the guest has not set up yet (and
    /// would clear when it enables FIFOs).
    /// </summary>
    public void PollInput()
    {
        if ((_ier & IerRda) == 0) return;
        FillFromInput();
        UpdateIrq();
    }

    /// <summary>Bytes waiting in the receiver (RBR or the receive FIFO).</summary>
    public int ReceiveCount => _rx.Count;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = ReadRegister((int)(offset & 7));
        UpdateIrq();
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        WriteRegister((int)(offset & 7), data[0]);
        UpdateIrq();
    }

    private bool Dlab => (_lcr & LcrDlab) != 0;

    private bool Loopback => (_mcr & McrLoop) != 0;

    private int RxCapacity => _fifoEnabled ? FifoSize : 1;

    private byte ReadRegister(int reg)
    {
        switch (reg)
        {
            case RegData:
                if (Dlab) return _dll;
                byte b = _rx.Count > 0 ? _rx.Dequeue() : (byte)0;
                FillFromInput();
                return b;
            case RegIer:
                return Dlab ? _dlm : _ier;
            case RegIir:
                FillFromInput();
                byte iir = Identify();
                // Table IV: reading IIR while THRE is the reported source clears that interrupt.
                if (iir == IirThre) _thrEmptyPending = false;
                return (byte)(iir | (_fifoEnabled ? IirFifosEnabled : 0));
            case RegLcr:
                return _lcr;
            case RegMcr:
                return _mcr;
            case RegLsr:
                FillFromInput();
                byte lsr = (byte)(LsrThre | LsrTemt | (_rx.Count > 0 ? LsrDr : 0) | (_overrun ? LsrOe : 0));
                _overrun = false; // OE clears on an LSR read, which also ends the line-status interrupt
                return lsr;
            case RegMsr:
                UpdateModemDeltas();
                byte msr = (byte)(_modemInputs << 4 | _msrDeltas);
                _msrDeltas = 0;
                return msr;
            default:
                return _scr;
        }
    }

    private void WriteRegister(int reg, byte v)
    {
        switch (reg)
        {
            case RegData:
                if (Dlab) { _dll = v; return; }
                // Writing THR clears a THRE interrupt; the byte leaves at once and THR is empty
                // again. Dropping the line in between gives an edge-triggered PIC a new edge, as
                // the real INTR does while the byte moves to the shift register.
                _thrEmptyPending = false;
                UpdateIrq();
                if (Loopback) Receive(v);
                else _output(v);
                _thrEmptyPending = true;
                return;
            case RegIer:
                if (Dlab) { _dlm = v; return; }
                bool threWasEnabled = (_ier & IerThre) != 0;
                _ier = (byte)(v & 0x0F);
                // Enabling the THRE interrupt while THR is empty raises it at once.
                if (!threWasEnabled && (_ier & IerThre) != 0) _thrEmptyPending = true;
                return;
            case RegIir:
                WriteFifoControl(v);
                return;
            case RegLcr:
                _lcr = v;
                return;
            case RegMcr:
                _mcr = (byte)(v & McrWritable);
                UpdateModemDeltas();
                return;
            case RegLsr:
            case RegMsr:
                return; // factory-test writes; the registers are read-only in normal use
            default:
                _scr = v;
                return;
        }
    }

    // FCR: bit 0 must be 1 for the other bits to be programmed; a change of bit 0 clears
    // both FIFOs. The transmit FIFO is always empty here, so only the receiver is affected.
    private void WriteFifoControl(byte v)
    {
        bool enable = (v & FcrEnable) != 0;
        if (enable != _fifoEnabled) _rx.Clear();
        _fifoEnabled = enable;
        if (!enable) return;
        if ((v & FcrRxReset) != 0) _rx.Clear();
        _triggerLevel = (v >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };
    }

    private void Receive(byte b)
    {
        if (_rx.Count < RxCapacity)
        {
            _rx.Enqueue(b);
            return;
        }
        // LSR bit 1 (OE): with FIFOs the character in the shift register is lost; without, the
        // new character overwrites the unread one in RBR.
        _overrun = true;
        if (!_fifoEnabled)
        {
            _rx.Clear();
            _rx.Enqueue(b);
        }
    }

    private void FillFromInput()
    {
        if (Loopback) return; // the receiver is disconnected from SIN in loopback
        while (_rx.Count < RxCapacity && _input.TryRead(out byte b)) _rx.Enqueue(b);
    }

    // The modem inputs as MSR bits 4-7 report them (1 = asserted). In loopback they are the
    // outputs (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD); otherwise a connected null-modem line.
    private byte ModemInputs()
    {
        if (!Loopback) return InCts | InDsr | InDcd;
        return (byte)(((_mcr & McrRts) != 0 ? InCts : 0) | ((_mcr & McrDtr) != 0 ? InDsr : 0) |
                      ((_mcr & McrOut1) != 0 ? InRi : 0) | ((_mcr & McrOut2) != 0 ? InDcd : 0));
    }

    private void UpdateModemDeltas()
    {
        byte now = ModemInputs();
        byte changed = (byte)(now ^ _modemInputs);
        // DCTS, DDSR and DDCD flag any change; TERI only RI going inactive (its trailing edge).
        _msrDeltas |= (byte)(changed & (InCts | InDsr | InDcd));
        if ((changed & InRi) != 0 && (now & InRi) == 0) _msrDeltas |= InRi;
        _modemInputs = now;
    }

    private byte Identify() => Identify(_ier, _overrun, _rx.Count, _fifoEnabled, _triggerLevel, _thrEmptyPending, _msrDeltas);

    /// <summary>
    /// The source IIR reports (Table IV, highest priority first), <see cref="IirNone"/> for none;
    /// a function of the saved state alone, which <see cref="Uart16550State.Describe"/> shows too.
    /// </summary>
    internal static byte Identify(byte ier, bool overrun, int received, bool fifoEnabled, int triggerLevel, bool thrEmptyPending, byte msrDeltas)
    {
        if ((ier & IerRls) != 0 && overrun) return IirRls;
        if ((ier & IerRda) != 0 && received > 0)
            return !fifoEnabled || received >= triggerLevel ? IirRda : IirTimeout;
        if ((ier & IerThre) != 0 && thrEmptyPending) return IirThre;
        if ((ier & IerMs) != 0 && msrDeltas != 0) return IirMs;
        return IirNone;
    }

    /// <summary>Whether the IRQ line is up: PC boards gate INTR with OUT2, and loopback holds OUT2 inactive.</summary>
    internal static bool IrqLineUp(byte identified, byte mcr) => identified != IirNone && (mcr & McrOut2) != 0 && (mcr & McrLoop) == 0;

    private void UpdateIrq()
    {
        bool level = IrqLineUp(Identify(), _mcr);
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq.SetLevel(level);
    }

    public Uart16550State SaveState() => new()
    {
        Dll = _dll, Dlm = _dlm, Ier = _ier, Lcr = _lcr, Mcr = _mcr, Scr = _scr,
        MsrDeltas = _msrDeltas, ModemInputs = _modemInputs, FifoEnabled = _fifoEnabled, TriggerLevel = _triggerLevel,
        Overrun = _overrun, ThrEmptyPending = _thrEmptyPending, RxFifo = _rx.ToArray(),
    };

    public void RestoreState(Uart16550State s)
    {
        if (s.RxFifo.Length > FifoSize || s.TriggerLevel is not (1 or 4 or 8 or 14))
            throw new ArgumentException("not a 16550A state", nameof(s));
        _dll = s.Dll; _dlm = s.Dlm; _ier = s.Ier; _lcr = s.Lcr; _mcr = s.Mcr; _scr = s.Scr;
        _msrDeltas = s.MsrDeltas; _modemInputs = s.ModemInputs; _fifoEnabled = s.FifoEnabled; _triggerLevel = s.TriggerLevel;
        _overrun = s.Overrun; _thrEmptyPending = s.ThrEmptyPending;
        _rx.Clear();
        foreach (var b in s.RxFifo) _rx.Enqueue(b);
        _irqLevel = IrqLineUp(Identify(), _mcr);
        _irq.SetLevel(_irqLevel);
    }
}
