using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Serial;

/// <summary>
/// A 16550A UART (TI/National PC16550D datasheet) seen through offsets 0-7: RBR/THR/DLL,
/// IER/DLM, IIR/FCR, LCR, MCR, LSR, MSR, SCR, with 16-byte FIFOs and the four interrupt sources
/// in datasheet priority. Transmission is instantaneous (THR empties at once into the output
/// sink). Received bytes come from <see cref="ISerialInput"/> only while the receive FIFO has
/// room and the guest reads or has receive interrupts enabled, so a guest that is not ready
/// loses nothing. With no per-character time, "data below
/// the trigger level" is reported as a character timeout at once. The IRQ line is the
/// interrupt output gated by MCR.OUT2, as PC boards wire it.
/// </summary>
public sealed class Uart16550 : IBusDevice, IStatefulDevice<Uart16550State>
{
    // Register offsets and bits: PC16550D datasheet, section 8.
    private const byte IerRda = 0x01, IerThre = 0x02, IerRls = 0x04, IerMs = 0x08;
    private const byte LcrDlab = 0x80;
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte LsrDr = 0x01, LsrOe = 0x02, LsrThre = 0x20, LsrTemt = 0x40;
    private const byte IirNone = 0x01, IirMs = 0x00, IirThre = 0x02, IirRda = 0x04, IirRls = 0x06, IirTimeout = 0x0C;
    private const int FifoSize = 16;

    private readonly ISerialInput _input;
    private readonly Action<byte> _output;
    private readonly IIrqLine _irq;
    private readonly Queue<byte> _rx = new();
    private byte _dll = 1, _dlm, _ier, _lcr, _mcr, _scr, _msrDeltas, _lastModemInputs;
    private bool _fifoEnabled, _overrun, _thrEmptyPending;
    private int _trigger = 1;

    public Uart16550(ISerialInput input, Action<byte> output, IIrqLine irq)
    {
        _input = input;
        _output = output;
        _irq = irq;
        _lastModemInputs = ModemInputs();
    }

    /// <summary>
    /// Takes host input that arrived while the guest was running, if the guest asked to be
    /// interrupted for it. A polling guest takes bytes with its own LSR/RBR reads instead, so a
    /// byte is never pulled into a FIFO the guest has not set up yet (and would reset).
    /// </summary>
    public void PollInput()
    {
        if ((_ier & IerRda) == 0) return;
        FillFromInput();
        UpdateIrq();
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(0);
        data[0] = ReadRegister((int)(offset & 7));
        UpdateIrq();
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        WriteRegister((int)(offset & 7), data[0]);
        UpdateIrq();
    }

    private bool Dlab => (_lcr & LcrDlab) != 0;
    private int RxCapacity => _fifoEnabled ? FifoSize : 1;

    private byte ReadRegister(int reg)
    {
        switch (reg)
        {
            case 0:
                if (Dlab) return _dll;
                byte b = _rx.Count > 0 ? _rx.Dequeue() : (byte)0;
                FillFromInput();
                return b;
            case 1:
                return Dlab ? _dlm : _ier;
            case 2:
                FillFromInput();
                byte iir = Identify();
                // Reading IIR while THRE is the reported source clears that source.
                if (iir == IirThre) _thrEmptyPending = false;
                return (byte)(iir | (_fifoEnabled ? 0xC0 : 0));
            case 3:
                return _lcr;
            case 4:
                return _mcr;
            case 5:
                FillFromInput();
                byte lsr = (byte)(LsrThre | LsrTemt | (_rx.Count > 0 ? LsrDr : 0) | (_overrun ? LsrOe : 0));
                _overrun = false;
                return lsr;
            case 6:
                UpdateModemDeltas();
                byte msr = (byte)(ModemInputs() << 4 | _msrDeltas);
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
            case 0:
                if (Dlab) { _dll = v; return; }
                if ((_mcr & McrLoop) != 0) Receive(v);
                else _output(v);
                // The byte left at once: THR and the transmitter are empty again.
                _thrEmptyPending = true;
                return;
            case 1:
                if (Dlab) { _dlm = v; return; }
                bool threWasOff = (_ier & IerThre) == 0;
                _ier = (byte)(v & 0x0F);
                if (threWasOff && (_ier & IerThre) != 0) _thrEmptyPending = true;
                return;
            case 2:
                bool enable = (v & 0x01) != 0;
                if (enable != _fifoEnabled || (v & 0x02) != 0) _rx.Clear();
                _fifoEnabled = enable;
                _trigger = (v >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };
                return;
            case 3:
                _lcr = v;
                return;
            case 4:
                _mcr = (byte)(v & 0x1F);
                UpdateModemDeltas();
                return;
            case 5:
            case 6:
                return; // LSR and MSR are read-only (factory test writes ignored)
            default:
                _scr = v;
                return;
        }
    }

    private void Receive(byte b)
    {
        if (_rx.Count < RxCapacity) _rx.Enqueue(b);
        else _overrun = true;
    }

    private void FillFromInput()
    {
        if ((_mcr & McrLoop) != 0) return; // in loopback the receiver is disconnected from the line
        while (_rx.Count < RxCapacity && _input.TryRead(out byte b)) _rx.Enqueue(b);
    }

    // CTS, DSR, RI, DCD (MSR bits 4-7): looped from MCR in loopback, otherwise a connected line.
    private byte ModemInputs()
    {
        if ((_mcr & McrLoop) == 0) return 0b1011; // CTS, DSR, DCD asserted; RI not
        return (byte)(((_mcr & McrRts) != 0 ? 1 : 0) | ((_mcr & McrDtr) != 0 ? 2 : 0) | ((_mcr & McrOut1) != 0 ? 4 : 0) | ((_mcr & McrOut2) != 0 ? 8 : 0));
    }

    private void UpdateModemDeltas()
    {
        byte now = ModemInputs();
        byte changed = (byte)(now ^ _lastModemInputs);
        // DCTS, DDSR, DDCD on any change; TERI only on RI's trailing edge.
        _msrDeltas |= (byte)(changed & 0b1011);
        if ((changed & 0b0100) != 0 && (now & 0b0100) == 0) _msrDeltas |= 0b0100;
        _lastModemInputs = now;
    }

    private byte Identify()
    {
        if ((_ier & IerRls) != 0 && _overrun) return IirRls;
        if ((_ier & IerRda) != 0 && _rx.Count > 0)
            return !_fifoEnabled || _rx.Count >= _trigger ? IirRda : IirTimeout;
        if ((_ier & IerThre) != 0 && _thrEmptyPending) return IirThre;
        if ((_ier & IerMs) != 0 && _msrDeltas != 0) return IirMs;
        return IirNone;
    }

    private void UpdateIrq() => _irq.SetLevel(Identify() != IirNone && (_mcr & McrOut2) != 0);

    public Uart16550State SaveState() => new()
    {
        Dll = _dll, Dlm = _dlm, Ier = _ier, Lcr = _lcr, Mcr = _mcr, Scr = _scr, MsrDeltas = _msrDeltas,
        LastModemInputs = _lastModemInputs, FifoEnabled = _fifoEnabled, TriggerLevel = _trigger, Overrun = _overrun,
        ThrEmptyPending = _thrEmptyPending, RxFifo = _rx.ToArray(),
    };

    public void RestoreState(Uart16550State s)
    {
        _dll = s.Dll; _dlm = s.Dlm; _ier = s.Ier; _lcr = s.Lcr; _mcr = s.Mcr; _scr = s.Scr; _msrDeltas = s.MsrDeltas;
        _lastModemInputs = s.LastModemInputs; _fifoEnabled = s.FifoEnabled; _trigger = s.TriggerLevel; _overrun = s.Overrun;
        _thrEmptyPending = s.ThrEmptyPending;
        _rx.Clear();
        foreach (var b in s.RxFifo) _rx.Enqueue(b);
        UpdateIrq();
    }
}
