namespace VmReplay.Devices.Interrupts;

/// <summary>
/// One Intel 8259A programmable interrupt controller (datasheet 231468): ICW1-4, OCW1-3,
/// IRR/ISR/IMR, fixed and rotating priority, specific and non-specific EOI, automatic EOI,
/// poll mode and special mask mode. Edge-triggered: an input's rising edge latches its IRR bit,
/// which stays until acknowledged (level-triggered mode, ICW1.LTIM, is accepted but treated as
/// edge, as no device here needs it).
/// </summary>
public sealed class Pic8259
{
    private byte _irr, _isr, _imr, _levels, _vectorBase, _icw3;
    private int _initStep; // 0: ready; 2, 3, 4: expecting that ICW
    private bool _icw4Needed, _single, _autoEoi, _rotateOnAutoEoi, _readIsr, _poll, _specialMask;
    private int _priorityBase = 7; // the lowest-priority IRQ; the highest is (base + 1) & 7

    public Pic8259(string name) => Name = name;

    public string Name { get; }

    /// <summary>Raised when the INT output may have changed.</summary>
    internal Action? OutputChanged { get; set; }

    public byte Irr => _irr;
    public byte Isr => _isr;
    public byte Imr => _imr;
    public byte VectorBase => _vectorBase;

    /// <summary>The INT output: an unmasked request outranks everything in service.</summary>
    public bool InterruptOutput => HighestPendingIrq() >= 0;

    /// <summary>Drives input <paramref name="irq"/> (0-7); a rising edge latches the request.</summary>
    public void SetLevel(int irq, bool high)
    {
        SetLevelQuiet(irq, high);
        OutputChanged?.Invoke();
    }

    /// <summary>Drives an input without notifying (the cascade wire, updated from the slave's own notification).</summary>
    internal void SetLevelQuiet(int irq, bool high)
    {
        byte bit = (byte)(1 << irq);
        if (high && (_levels & bit) == 0) _irr |= bit;
        _levels = high ? (byte)(_levels | bit) : (byte)(_levels & ~bit);
    }

    /// <summary>
    /// The INTA sequence for this chip: the IRQ being acknowledged, or -1 when no request is
    /// there any more (the caller delivers IRQ 7, a spurious interrupt, without setting ISR).
    /// </summary>
    internal int AcknowledgeIrq()
    {
        int irq = HighestPendingIrq();
        if (irq < 0) return -1;
        byte bit = (byte)(1 << irq);
        _irr &= (byte)~bit;
        if (_autoEoi)
        {
            if (_rotateOnAutoEoi) _priorityBase = irq;
        }
        else
        {
            _isr |= bit;
        }
        OutputChanged?.Invoke();
        return irq;
    }

    public byte Read(int offset)
    {
        if (offset == 1) return _imr;
        if (_poll)
        {
            // Poll mode (OCW3 P=1): the next read acknowledges, as an INTA would.
            _poll = false;
            int irq = AcknowledgeIrq();
            return irq < 0 ? (byte)0 : (byte)(0x80 | irq);
        }
        return _readIsr ? _isr : _irr;
    }

    public void Write(int offset, byte value)
    {
        if (offset == 0)
        {
            if ((value & 0x10) != 0) Icw1(value);
            else if ((value & 0x08) != 0) Ocw3(value);
            else Ocw2(value);
        }
        else
        {
            switch (_initStep)
            {
                case 2:
                    _vectorBase = (byte)(value & 0xF8);
                    _initStep = _single ? (_icw4Needed ? 4 : 0) : 3;
                    break;
                case 3:
                    _icw3 = value;
                    _initStep = _icw4Needed ? 4 : 0;
                    break;
                case 4:
                    _autoEoi = (value & 0x02) != 0;
                    _initStep = 0;
                    break;
                default:
                    _imr = value; // OCW1
                    break;
            }
        }
        OutputChanged?.Invoke();
    }

    private void Icw1(byte value)
    {
        // ICW1 resets the chip: IMR cleared, IR7 lowest priority, special mask off, read IRR.
        _icw4Needed = (value & 0x01) != 0;
        _single = (value & 0x02) != 0;
        _initStep = 2;
        _irr = _isr = _imr = 0;
        _levels = 0;
        _autoEoi = _rotateOnAutoEoi = _readIsr = _poll = _specialMask = false;
        _priorityBase = 7;
    }

    private void Ocw2(byte value)
    {
        int level = value & 7;
        switch (value >> 5)
        {
            case 0b001: // non-specific EOI
                NonSpecificEoi(rotate: false);
                break;
            case 0b101: // rotate on non-specific EOI
                NonSpecificEoi(rotate: true);
                break;
            case 0b011: // specific EOI
                _isr &= (byte)~(1 << level);
                break;
            case 0b111: // rotate on specific EOI
                _isr &= (byte)~(1 << level);
                _priorityBase = level;
                break;
            case 0b110: // set priority
                _priorityBase = level;
                break;
            case 0b100:
                _rotateOnAutoEoi = true;
                break;
            case 0b000:
                _rotateOnAutoEoi = false;
                break;
        }
    }

    private void NonSpecificEoi(bool rotate)
    {
        int irq = HighestPriorityIn(_isr);
        if (irq < 0) return;
        _isr &= (byte)~(1 << irq);
        if (rotate) _priorityBase = irq;
    }

    private void Ocw3(byte value)
    {
        if ((value & 0x02) != 0) _readIsr = (value & 0x01) != 0;
        _poll = (value & 0x04) != 0;
        if ((value & 0x40) != 0) _specialMask = (value & 0x20) != 0;
    }

    /// <summary>The IRQ that would be delivered now, or -1.</summary>
    private int HighestPendingIrq()
    {
        int irq = HighestPriorityIn((byte)(_irr & ~_imr));
        if (irq < 0) return -1;
        // In special mask mode, masked in-service levels do not block lower priorities.
        byte inService = _specialMask ? (byte)(_isr & ~_imr) : _isr;
        int serving = HighestPriorityIn(inService);
        if (serving >= 0 && Rank(serving) <= Rank(irq)) return -1;
        return irq;
    }

    private int Rank(int irq) => (irq - _priorityBase - 1) & 7;

    private int HighestPriorityIn(byte mask)
    {
        for (int i = 0; i < 8; i++)
        {
            int irq = (_priorityBase + 1 + i) & 7;
            if ((mask & (1 << irq)) != 0) return irq;
        }
        return -1;
    }

    public Pic8259State SaveState() => new()
    {
        Irr = _irr, Isr = _isr, Imr = _imr, LineLevels = _levels, InitStep = _initStep, Icw4Needed = _icw4Needed,
        Single = _single, VectorBase = _vectorBase, Icw3 = _icw3, AutoEoi = _autoEoi, RotateOnAutoEoi = _rotateOnAutoEoi,
        ReadIsr = _readIsr, Poll = _poll, SpecialMask = _specialMask, PriorityBase = _priorityBase,
    };

    public void RestoreState(Pic8259State s)
    {
        _irr = s.Irr; _isr = s.Isr; _imr = s.Imr; _levels = s.LineLevels; _initStep = s.InitStep; _icw4Needed = s.Icw4Needed;
        _single = s.Single; _vectorBase = s.VectorBase; _icw3 = s.Icw3; _autoEoi = s.AutoEoi; _rotateOnAutoEoi = s.RotateOnAutoEoi;
        _readIsr = s.ReadIsr; _poll = s.Poll; _specialMask = s.SpecialMask; _priorityBase = s.PriorityBase;
    }
}
