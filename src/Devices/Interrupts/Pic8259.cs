using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Interrupts;

/// <summary>
/// One Intel 8259A programmable interrupt controller (datasheet order 231468), registered over
/// two ports (offsets 0 and 1: A0 = 0 and 1). Initialisation ICW1-ICW4; OCW1 (IMR), OCW2 (EOI,
/// specific EOI, rotations, set priority), OCW3 (IRR/ISR read, poll, special mask mode);
/// fully nested mode with rotating priority, automatic EOI, special fully nested mode.
/// </summary>
/// <remarks>
/// <para>Inputs are edge-triggered: a rising edge of an input latches its IRR bit, which stays until
/// the request is acknowledged. Level-triggered mode (ICW1.LTIM) is accepted and treated as edge;
/// no device here needs it (the PC/AT's ELCR is not modelled either).</para>
/// <para>ICW4's µPM bit is accepted, but the chip always answers as in 8086 mode (one vector
/// byte): an x86 CPU cannot take the MCS-80/85 CALL sequence.</para>
/// <para>Before the guest initialises it the chip is as ICW1 leaves it, with the PC wiring in ICW3.</para>
/// </remarks>
public sealed class Pic8259 : IBusDevice, IStatefulDevice<Pic8259State>
{
    // 8259A datasheet, "Initialization Command Words" and "Operation Command Words".
    private const byte Icw1Ic4 = 0x01, Icw1Single = 0x02, Icw1Select = 0x10;
    private const byte Icw4AutoEoi = 0x02, Icw4SpecialFullyNested = 0x10;
    private const byte Ocw3Select = 0x08, Ocw3ReadRegister = 0x02, Ocw3ReadIsr = 0x01, Ocw3Poll = 0x04;
    private const byte Ocw3SetSpecialMask = 0x40, Ocw3SpecialMask = 0x20;
    private const byte PollInterrupt = 0x80;

    private byte _irr, _isr, _imr, _levels, _vectorBase, _icw3;
    private int _initStep; // 0: operating; 2, 3, 4: the next write to A0 = 1 is that ICW
    private bool _icw4Needed, _single, _autoEoi, _specialFullyNested, _rotateOnAutoEoi, _readIsr, _poll, _specialMask;
    private int _lowestPriority = 7; // IR7 lowest after ICW1; the highest is the next one round

    /// <param name="name">For reports ("master", "slave").</param>
    /// <param name="cascadeWiring">ICW3 as a PC board's firmware programs it (master 0x04: slave on IR2; slave 0x02: its ID).</param>
    public Pic8259(string name, byte cascadeWiring = 0)
    {
        Name = name;
        _icw3 = cascadeWiring;
    }

    /// <summary>For reports.</summary>
    public string Name { get; }

    /// <summary>Called after anything that may have changed <see cref="InterruptOutput"/>.</summary>
    internal Action? OutputChanged { get; set; }

    /// <summary>Interrupt request register.</summary>
    public byte Irr => _irr;

    /// <summary>In-service register.</summary>
    public byte Isr => _isr;

    /// <summary>Interrupt mask register (OCW1).</summary>
    public byte Imr => _imr;

    /// <summary>T7-T3 from ICW2: the vector of IR0.</summary>
    public byte VectorBase => _vectorBase;

    /// <summary>ICW3: in cascade mode the master's bit n marks a slave on IRn; a slave's low bits are its ID.</summary>
    public byte CascadeConfiguration => _icw3;

    /// <summary>Cascade mode (ICW1.SNGL clear).</summary>
    public bool IsCascaded => !_single;

    /// <summary>The INT output: an unmasked request that no in-service level of equal or higher priority blocks.</summary>
    public bool InterruptOutput => HighestPendingIrq() >= 0;

    /// <summary>Drives input IR<paramref name="irq"/> (0-7); a rising edge latches the request.</summary>
    public void SetLevel(int irq, bool high)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)irq, 7u, nameof(irq));
        SetLevelQuiet(irq, high);
        OutputChanged?.Invoke();
    }

    /// <summary>Drives an input without notifying (the cascade wire, driven from the slave's own notification).</summary>
    internal void SetLevelQuiet(int irq, bool high)
    {
        byte bit = (byte)(1 << irq);
        if (high && (_levels & bit) == 0) _irr |= bit;
        _levels = high ? (byte)(_levels | bit) : (byte)(_levels & ~bit);
    }

    /// <summary>
    /// The chip's part of an INTA sequence: the IR being acknowledged (its IRR bit moves to ISR
    /// unless in automatic-EOI mode), or -1 when no request is there any more, in which case the
    /// chip answers IR7 without setting ISR (a spurious interrupt).
    /// </summary>
    internal int AcknowledgeIrq()
    {
        int irq = HighestPendingIrq();
        if (irq < 0) return -1;
        byte bit = (byte)(1 << irq);
        _irr &= (byte)~bit;
        if (!_autoEoi) _isr |= bit;
        else if (_rotateOnAutoEoi) _lowestPriority = irq;
        OutputChanged?.Invoke();
        return irq;
    }

    /// <summary>Whether IR<paramref name="irq"/> has a slave behind it, which then supplies the vector.</summary>
    internal bool HasSlaveOn(int irq) => !_single && (_icw3 & 1 << irq) != 0;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = ReadRegister((int)(offset & 1));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data) => WriteRegister((int)(offset & 1), data[0]);

    private byte ReadRegister(int a0)
    {
        if (_poll)
        {
            // Poll command (OCW3 P=1): this read is the interrupt acknowledge, on either port.
            _poll = false;
            int irq = AcknowledgeIrq();
            return irq < 0 ? (byte)0 : (byte)(PollInterrupt | irq);
        }
        if (a0 == 1) return _imr;
        return _readIsr ? _isr : _irr;
    }

    private void WriteRegister(int a0, byte value)
    {
        if (a0 == 0)
        {
            if ((value & Icw1Select) != 0) Icw1(value);
            else if ((value & Ocw3Select) != 0) Ocw3(value);
            else Ocw2(value);
        }
        else
        {
            switch (_initStep)
            {
                case 2:
                    _vectorBase = (byte)(value & 0xF8); // T7-T3; the chip supplies the low three bits
                    _initStep = !_single ? 3 : _icw4Needed ? 4 : 0;
                    break;
                case 3:
                    _icw3 = value;
                    _initStep = _icw4Needed ? 4 : 0;
                    break;
                case 4:
                    _autoEoi = (value & Icw4AutoEoi) != 0;
                    _specialFullyNested = (value & Icw4SpecialFullyNested) != 0;
                    _initStep = 0;
                    break;
                default:
                    _imr = value; // OCW1
                    break;
            }
        }
        OutputChanged?.Invoke();
    }

    // ICW1 starts the sequence and resets: edge sense (an input must go low then high again to
    // request), IMR cleared, IR7 lowest priority, special mask off, status read of IRR, and the
    // ICW4 functions cleared when IC4 = 0. IRR and ISR are cleared too, so nothing requested or
    // in service under the old programming survives it.
    private void Icw1(byte value)
    {
        _icw4Needed = (value & Icw1Ic4) != 0;
        _single = (value & Icw1Single) != 0;
        _initStep = 2;
        _irr = _isr = _imr = 0;
        _autoEoi = _specialFullyNested = _rotateOnAutoEoi = _readIsr = _poll = _specialMask = false;
        _lowestPriority = 7;
    }

    private void Ocw2(byte value)
    {
        int level = value & 7;
        switch (value >> 5) // R, SL, EOI
        {
            case 0b001: // non-specific EOI
                NonSpecificEoi(rotate: false);
                break;
            case 0b011: // specific EOI
                _isr &= (byte)~(1 << level);
                break;
            case 0b101: // rotate on non-specific EOI
                NonSpecificEoi(rotate: true);
                break;
            case 0b100: // rotate in automatic EOI mode (set)
                _rotateOnAutoEoi = true;
                break;
            case 0b000: // rotate in automatic EOI mode (clear)
                _rotateOnAutoEoi = false;
                break;
            case 0b111: // rotate on specific EOI
                _isr &= (byte)~(1 << level);
                _lowestPriority = level;
                break;
            case 0b110: // set priority
                _lowestPriority = level;
                break;
            default: // 0b010: no operation
                break;
        }
    }

    // The highest-priority level in service is the one being served. In special mask mode that
    // is not so (levels are served out of order), and the datasheet requires a specific EOI; a
    // non-specific one still resets the highest ISR bit, as the chip does.
    private void NonSpecificEoi(bool rotate)
    {
        int irq = HighestPriorityIn(_isr);
        if (irq < 0) return;
        _isr &= (byte)~(1 << irq);
        if (rotate) _lowestPriority = irq;
    }

    private void Ocw3(byte value)
    {
        if ((value & Ocw3ReadRegister) != 0) _readIsr = (value & Ocw3ReadIsr) != 0;
        _poll = (value & Ocw3Poll) != 0;
        if ((value & Ocw3SetSpecialMask) != 0) _specialMask = (value & Ocw3SpecialMask) != 0;
    }

    /// <summary>The IR that the chip would present now, or -1.</summary>
    private int HighestPendingIrq()
    {
        int irq = HighestPriorityIn((byte)(_irr & ~_imr));
        if (irq < 0) return -1;
        // Special mask mode: a masked level in service does not inhibit the others.
        byte inService = _specialMask ? (byte)(_isr & ~_imr) : _isr;
        int serving = HighestPriorityIn(inService);
        if (serving < 0 || Rank(irq) < Rank(serving)) return irq;
        // Special fully nested mode: a slave's input in service does not block a new request from
        // that slave, which the slave itself has already ranked above what it is serving.
        if (serving == irq && _specialFullyNested && HasSlaveOn(irq)) return irq;
        return -1;
    }

    // 0 is the highest priority: the level after the lowest-priority one.
    private int Rank(int irq) => (irq - _lowestPriority - 1) & 7;

    private int HighestPriorityIn(byte mask)
    {
        for (int i = 1; i <= 8; i++)
        {
            int irq = (_lowestPriority + i) & 7;
            if ((mask & 1 << irq) != 0) return irq;
        }
        return -1;
    }

    public Pic8259State SaveState() => new()
    {
        Irr = _irr, Isr = _isr, Imr = _imr, InputLevels = _levels, InitStep = _initStep, Icw4Needed = _icw4Needed,
        Single = _single, VectorBase = _vectorBase, Icw3 = _icw3, AutoEoi = _autoEoi, SpecialFullyNested = _specialFullyNested,
        RotateOnAutoEoi = _rotateOnAutoEoi, ReadIsr = _readIsr, Poll = _poll, SpecialMask = _specialMask,
        LowestPriority = _lowestPriority,
    };

    public void RestoreState(Pic8259State s)
    {
        if (s.InitStep is not (0 or 2 or 3 or 4) || s.LowestPriority is < 0 or > 7)
            throw new ArgumentException("not an 8259A state", nameof(s));
        _irr = s.Irr; _isr = s.Isr; _imr = s.Imr; _levels = s.InputLevels; _initStep = s.InitStep; _icw4Needed = s.Icw4Needed;
        _single = s.Single; _vectorBase = s.VectorBase; _icw3 = s.Icw3; _autoEoi = s.AutoEoi; _specialFullyNested = s.SpecialFullyNested;
        _rotateOnAutoEoi = s.RotateOnAutoEoi; _readIsr = s.ReadIsr; _poll = s.Poll; _specialMask = s.SpecialMask;
        _lowestPriority = s.LowestPriority;
    }
}
