using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Interrupts;

/// <summary>
/// The PC/AT pair of 8259As: ISA IRQ 0-7 on the master, 8-15 on the slave, whose INT output
/// drives the master's IR2. The platform registers <see cref="Master"/> at 0x20-0x21 and
/// <see cref="Slave"/> at 0xA0-0xA1 (two ports each); devices get their wires from
/// <see cref="Line"/>; the CPU side is <see cref="HasPendingInterrupt"/> and
/// <see cref="Acknowledge"/>, the INTA cycle.
/// </summary>
/// <remarks>
/// The slave supplies the vector only if the master's ICW3 marks IR2 as a cascade input (in
/// cascade mode), as on the chip; otherwise IR2 is acknowledged as an ordinary input.
/// </remarks>
public sealed class DualPic8259 : IStatefulDevice<DualPic8259State>
{
    /// <summary>The master input the slave's INT is wired to.</summary>
    public const int CascadeIrq = 2;

    // What PC firmware programs into ICW3: the master has a slave on IR2, the slave's ID is 2.
    private const byte MasterIcw3 = 1 << CascadeIrq, SlaveIcw3 = CascadeIrq;
    private const int SpuriousIrq = 7;

    private readonly IIrqLine[] _lines = new IIrqLine[16];

    public DualPic8259()
    {
        Master = new Pic8259("master", MasterIcw3);
        Slave = new Pic8259("slave", SlaveIcw3);
        Slave.OutputChanged = () => Master.SetLevelQuiet(CascadeIrq, Slave.InterruptOutput);
        for (int i = 0; i < 16; i++) _lines[i] = new IrqWire(this, i);
    }

    /// <summary>The master chip (IRQ 0-7); as a bus device, two ports.</summary>
    public Pic8259 Master { get; }

    /// <summary>The slave chip (IRQ 8-15); as a bus device, two ports.</summary>
    public Pic8259 Slave { get; }

    /// <summary>The master asserts INT to the CPU. Check it after any device access or timer advance.</summary>
    public bool HasPendingInterrupt => Master.InterruptOutput;

    /// <summary>
    /// The wire for ISA IRQ <paramref name="irq"/> (0-15). IRQ 2 is the cascade input and has no
    /// wire of its own (the AT bus's IRQ2 pin is IRQ 9).
    /// </summary>
    public IIrqLine Line(int irq)
    {
        if (irq is < 0 or > 15 || irq == CascadeIrq)
            throw new ArgumentOutOfRangeException(nameof(irq), irq, "ISA IRQs are 0-15, and 2 is the cascade");
        return _lines[irq];
    }

    /// <summary>
    /// The INTA cycle: returns the vector of the highest-priority request and puts it in service
    /// (unless automatic EOI). A request that vanished before the acknowledge gives the spurious
    /// vector of IR7 with no ISR bit set; on the slave (IRQ 15) the master's IR2 is still put in
    /// service, as hardware does.
    /// </summary>
    public byte Acknowledge()
    {
        int irq = Master.AcknowledgeIrq();
        if (irq < 0) return (byte)(Master.VectorBase + SpuriousIrq);
        if (!Master.HasSlaveOn(irq)) return (byte)(Master.VectorBase + irq);
        int slaveIrq = Slave.AcknowledgeIrq();
        return (byte)(Slave.VectorBase + (slaveIrq < 0 ? SpuriousIrq : slaveIrq));
    }

    public DualPic8259State SaveState() => new() { Master = Master.SaveState(), Slave = Slave.SaveState() };

    public void RestoreState(DualPic8259State state)
    {
        Master.RestoreState(state.Master);
        Slave.RestoreState(state.Slave);
    }

    private sealed class IrqWire(DualPic8259 pics, int irq) : IIrqLine
    {
        public void SetLevel(bool high)
        {
            if (irq < 8) pics.Master.SetLevel(irq, high);
            else pics.Slave.SetLevel(irq - 8, high);
        }
    }
}
