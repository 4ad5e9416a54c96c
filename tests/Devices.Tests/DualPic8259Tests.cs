using VmReplay.Devices.Interrupts;

namespace VmReplay.Devices.Tests;

/// <summary>The PC/AT master/slave pair as firmware and Linux program it.</summary>
public class DualPic8259Tests
{
    /// <summary>Edge, cascade, ICW4; vectors 0x20 and 0x28; slave on IR2, slave ID 2; 8086 mode.</summary>
    private static DualPic8259 Initialised(byte masterMask = 0x00, byte slaveMask = 0x00)
    {
        var p = new DualPic8259();
        p.Master.Out(0, 0x11); p.Slave.Out(0, 0x11);
        p.Master.Out(1, 0x20); p.Slave.Out(1, 0x28);
        p.Master.Out(1, 0x04); p.Slave.Out(1, 0x02);
        p.Master.Out(1, 0x01); p.Slave.Out(1, 0x01);
        p.Master.Out(1, masterMask); p.Slave.Out(1, slaveMask);
        return p;
    }

    private static void Pulse(DualPic8259 p, int irq)
    {
        p.Line(irq).SetLevel(true);
        p.Line(irq).SetLevel(false);
    }

    [Fact]
    public void InitialisationSetsVectorBaseAndMask()
    {
        var p = Initialised(masterMask: 0xFB);
        Assert.Equal(0xFB, p.Master.In(1));
        Pulse(p, 0);
        Assert.False(p.HasPendingInterrupt); // masked
        p.Master.Out(1, 0xFA);
        Assert.True(p.HasPendingInterrupt); // IRR kept the edge
        Assert.Equal(0x20, p.Acknowledge());
    }

    [Fact]
    public void FixedPriorityAndNonSpecificEoi()
    {
        var p = Initialised();
        Pulse(p, 4);
        Pulse(p, 1);
        Assert.Equal(0x21, p.Acknowledge());   // IRQ 1 outranks IRQ 4
        Assert.False(p.HasPendingInterrupt);   // IRQ 4 waits while IRQ 1 is in service
        Assert.Equal(0x02, p.Master.Isr);
        p.Master.Out(0, 0x20);
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x24, p.Acknowledge());
    }

    [Fact]
    public void HigherPriorityInterruptsNestOverLowerInService()
    {
        var p = Initialised();
        Pulse(p, 5);
        Assert.Equal(0x25, p.Acknowledge());
        Pulse(p, 3);
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x23, p.Acknowledge());
        p.Master.Out(0, 0x20); // clears IRQ 3, the highest in service
        Assert.Equal(0x20, p.Master.Isr);
    }

    [Fact]
    public void SlaveInterruptsCascadeThroughMasterIrq2()
    {
        var p = Initialised();
        Pulse(p, 12);
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x2C, p.Acknowledge());
        Assert.Equal(0x04, p.Master.Isr);
        Assert.Equal(0x10, p.Slave.Isr);
        Pulse(p, 3);
        Assert.False(p.HasPendingInterrupt); // IRQ 3 ranks below the cascade in service
        Pulse(p, 1);
        Assert.Equal(0x21, p.Acknowledge()); // IRQ 1 ranks above it
        Pulse(p, 9);
        Assert.False(p.HasPendingInterrupt); // the slave's IR1 must wait for the master's EOI of IR2
        p.Master.Out(0, 0x20); // EOI IRQ 1
        p.Slave.Out(0, 0x20);  // EOI IRQ 12 on the slave...
        p.Master.Out(0, 0x20); // ...and the cascade on the master
        Assert.Equal(0x29, p.Acknowledge());
    }

    [Fact]
    public void SlaveMaskAndMasterCascadeMaskBothBlock()
    {
        var p = Initialised(masterMask: 0x04);
        Pulse(p, 8);
        Assert.False(p.HasPendingInterrupt);
        p.Master.Out(1, 0x00);
        Assert.Equal(0x28, p.Acknowledge());
    }

    [Fact]
    public void SpecialFullyNestedModeLetsAHigherSlaveRequestThroughTheCascade()
    {
        var p = new DualPic8259();
        p.Master.Out(0, 0x11); p.Master.Out(1, 0x20); p.Master.Out(1, 0x04); p.Master.Out(1, 0x11); // SFNM
        p.Slave.Out(0, 0x11); p.Slave.Out(1, 0x28); p.Slave.Out(1, 0x02); p.Slave.Out(1, 0x01);
        p.Master.Out(1, 0); p.Slave.Out(1, 0);
        Pulse(p, 12);
        Assert.Equal(0x2C, p.Acknowledge());
        Pulse(p, 9);
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x29, p.Acknowledge());
    }

    [Fact]
    public void AutomaticEoiOnTheMaster()
    {
        var p = new DualPic8259();
        p.Master.Out(0, 0x11); p.Master.Out(1, 0x20); p.Master.Out(1, 0x04); p.Master.Out(1, 0x03);
        p.Master.Out(1, 0x00);
        Pulse(p, 0);
        Assert.Equal(0x20, p.Acknowledge());
        Assert.Equal(0, p.Master.Isr);
        Pulse(p, 0);
        Assert.True(p.HasPendingInterrupt);
    }

    [Fact]
    public void AVanishedMasterRequestIsSpuriousIrq7WithoutIsr()
    {
        var p = Initialised();
        Assert.Equal(0x27, p.Acknowledge());
        Assert.Equal(0, p.Master.Isr);
        Pulse(p, 6);
        p.Master.Out(1, 0x40); // masked between INT and INTA
        Assert.Equal(0x27, p.Acknowledge());
        Assert.Equal(0, p.Master.Isr);
    }

    [Fact]
    public void AVanishedSlaveRequestIsSpuriousIrq15WithTheCascadeInService()
    {
        var p = Initialised();
        Pulse(p, 9);
        p.Slave.Out(1, 0x02); // the master latched its IR2 edge; the slave no longer requests
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x2F, p.Acknowledge());
        Assert.Equal(0x04, p.Master.Isr);
        Assert.Equal(0, p.Slave.Isr);
    }

    [Fact]
    public void EdgeTriggeredLineHeldHighRaisesOnce()
    {
        var p = Initialised();
        p.Line(3).SetLevel(true);
        Assert.Equal(0x23, p.Acknowledge());
        p.Master.Out(0, 0x20);
        p.Line(3).SetLevel(true); // still high: no new edge
        Assert.False(p.HasPendingInterrupt);
        p.Line(3).SetLevel(false);
        p.Line(3).SetLevel(true);
        Assert.True(p.HasPendingInterrupt);
    }

    [Fact]
    public void WithoutACascadeBitInIcw3TheMasterAnswersIr2Itself()
    {
        var p = new DualPic8259();
        p.Master.Out(0, 0x11); p.Master.Out(1, 0x20); p.Master.Out(1, 0x00); p.Master.Out(1, 0x01);
        p.Master.Out(1, 0x00);
        Pulse(p, 10);
        Assert.Equal(0x22, p.Acknowledge());
    }

    [Fact]
    public void IrqTwoHasNoWireOfItsOwn()
    {
        var p = new DualPic8259();
        Assert.Throws<ArgumentOutOfRangeException>(() => p.Line(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.Line(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.Line(16));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        var a = Initialised(masterMask: 0x10);
        Pulse(a, 3); Pulse(a, 11); a.Acknowledge();
        a.Line(14).SetLevel(true);
        var b = new DualPic8259();
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        Assert.Equal(a.SaveState().Master, b.SaveState().Master);
        Assert.Equal(a.SaveState().Slave, b.SaveState().Slave);
        foreach (var p in new[] { a, b })
        {
            Pulse(p, 1);
            p.Line(14).SetLevel(true); // held: no edge on either
            Pulse(p, 4);              // masked
        }
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(a.HasPendingInterrupt, b.HasPendingInterrupt);
            if (a.HasPendingInterrupt) Assert.Equal(a.Acknowledge(), b.Acknowledge());
            a.Slave.Out(0, 0x20); b.Slave.Out(0, 0x20);
            a.Master.Out(0, 0x20); b.Master.Out(0, 0x20);
            Assert.Equal(a.Master.In(0), b.Master.In(0));
        }
    }

    [Fact]
    public void DescribeGivesOneLinePerChipWithItsCascadeRole()
    {
        var pics = new DualPic8259();
        pics.Master.Out(0, 0x11); pics.Master.Out(1, 0x20); pics.Master.Out(1, 0x04); pics.Master.Out(1, 0x01);
        pics.Slave.Out(0, 0x11); pics.Slave.Out(1, 0x28); pics.Slave.Out(1, 0x02); pics.Slave.Out(1, 0x01);
        pics.Master.Out(1, 0xFB);
        pics.Slave.Out(1, 0xFF);
        var lines = pics.SaveState().Describe().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("master: IRR 00 ISR 00 IMR fb  inputs 00  vector base 0x20  cascade: slave on IR2  ICW4 yes", lines[0]);
        Assert.StartsWith("slave:  IRR 00 ISR 00 IMR ff  inputs 00  vector base 0x28  cascade ID 2  ICW4 yes", lines[1]);
    }
}
