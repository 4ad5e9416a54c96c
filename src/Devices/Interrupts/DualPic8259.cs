using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Interrupts;

/// <summary>
/// The PC/AT pair of 8259As: the slave's INT output drives the master's IR2. Registered as two
/// bus devices (master 0x20-0x21, slave 0xA0-0xA1); the CPU side is <see cref="HasPendingInterrupt"/>
/// and <see cref="Acknowledge"/>, the INTA cycle.
/// </summary>
public sealed class DualPic8259 : IStatefulDevice<DualPic8259State>
{
    private const int CascadeIrq = 2;
    private readonly Pic8259 _master = new("master");
    private readonly Pic8259 _slave = new("slave");
    private readonly IIrqLine[] _lines = new IIrqLine[16];

    public DualPic8259()
    {
        _slave.OutputChanged = () => _master.SetLevelQuiet(CascadeIrq, _slave.InterruptOutput);
        for (int i = 0; i < 16; i++) _lines[i] = new IrqWire(this, i);
        Master = new Port(_master);
        Slave = new Port(_slave);
    }

    /// <summary>The master's registers (offsets 0-1).</summary>
    public IBusDevice Master { get; }

    /// <summary>The slave's registers (offsets 0-1).</summary>
    public IBusDevice Slave { get; }

    public Pic8259 MasterChip => _master;
    public Pic8259 SlaveChip => _slave;

    /// <summary>The master asserts INT to the CPU.</summary>
    public bool HasPendingInterrupt => _master.InterruptOutput;

    /// <summary>The wire for ISA IRQ <paramref name="irq"/> (0-15; 2 is the cascade).</summary>
    public IIrqLine Line(int irq) => _lines[irq];

    /// <summary>The INTA cycle: returns the vector; a request that vanished gives the spurious IRQ 7 or 15.</summary>
    public byte Acknowledge()
    {
        int irq = _master.AcknowledgeIrq();
        if (irq < 0) return (byte)(_master.VectorBase + 7);
        if (irq != CascadeIrq) return (byte)(_master.VectorBase + irq);
        int slaveIrq = _slave.AcknowledgeIrq();
        if (slaveIrq < 0) return (byte)(_slave.VectorBase + 7);
        return (byte)(_slave.VectorBase + slaveIrq);
    }

    public DualPic8259State SaveState() => new(_master.SaveState(), _slave.SaveState());

    public void RestoreState(DualPic8259State state)
    {
        _master.RestoreState(state.Master);
        _slave.RestoreState(state.Slave);
    }

    private sealed class IrqWire(DualPic8259 pics, int irq) : IIrqLine
    {
        public void SetLevel(bool high)
        {
            if (irq < 8) pics._master.SetLevel(irq, high);
            else pics._slave.SetLevel(irq - 8, high);
        }
    }

    private sealed class Port(Pic8259 chip) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            data.Fill(0);
            data[0] = chip.Read((int)(offset & 1));
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data) => chip.Write((int)(offset & 1), data[0]);
    }
}
