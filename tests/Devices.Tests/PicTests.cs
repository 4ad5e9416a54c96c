using VmReplay.Devices.Interrupts;

namespace VmReplay.Devices.Tests;

public class PicTests
{
    /// <summary>The PC BIOS/Linux initialisation: edge, cascade, ICW4, vectors 0x20 and 0x28.</summary>
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
        Assert.Equal(0x02, p.MasterChip.Isr);
        p.Master.Out(0, 0x20);                 // non-specific EOI
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
        Assert.Equal(0x20, p.MasterChip.Isr);
    }

    [Fact]
    public void SpecificEoiClearsTheNamedLevel()
    {
        var p = Initialised();
        Pulse(p, 6); p.Acknowledge();
        Pulse(p, 1); p.Acknowledge();
        p.Master.Out(0, 0x66); // specific EOI for IRQ 6, though IRQ 1 ranks higher
        Assert.Equal(0x02, p.MasterChip.Isr);
    }

    [Fact]
    public void AutomaticEoiLeavesNothingInService()
    {
        var p = new DualPic8259();
        p.Master.Out(0, 0x11); p.Master.Out(1, 0x20); p.Master.Out(1, 0x04); p.Master.Out(1, 0x03); // AEOI
        p.Master.Out(1, 0x00);
        Pulse(p, 0);
        Assert.Equal(0x20, p.Acknowledge());
        Assert.Equal(0, p.MasterChip.Isr);
    }

    [Fact]
    public void SlaveInterruptsCascadeThroughMasterIrq2()
    {
        var p = Initialised();
        Pulse(p, 12);
        Assert.True(p.HasPendingInterrupt);
        Assert.Equal(0x2C, p.Acknowledge());
        Assert.Equal(0x04, p.MasterChip.Isr);
        Assert.Equal(0x10, p.SlaveChip.Isr);
    }

    [Fact]
    public void AVanishedRequestIsDeliveredAsSpuriousIrq7And15()
    {
        var p = Initialised();
        // Nothing pending at INTA time: the master answers IRQ 7 and sets no ISR bit.
        Assert.Equal(0x27, p.Acknowledge());
        Assert.Equal(0, p.MasterChip.Isr);
        // A slave request masked after the master forwarded it: spurious IRQ 15, master IRQ 2 in service.
        Pulse(p, 9);
        p.Slave.Out(1, 0x02);
        Assert.Equal(0x2F, p.Acknowledge());
        Assert.Equal(0x04, p.MasterChip.Isr);
        Assert.Equal(0, p.SlaveChip.Isr);
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
    public void Ocw3SelectsIrrOrIsrAndPollAcknowledges()
    {
        var p = Initialised();
        Pulse(p, 1);
        p.Master.Out(0, 0x0A); // read IRR
        Assert.Equal(0x02, p.Master.In(0));
        p.Master.Out(0, 0x0C); // poll
        Assert.Equal(0x81, p.Master.In(0));
        p.Master.Out(0, 0x0B); // read ISR
        Assert.Equal(0x02, p.Master.In(0));
    }

    [Fact]
    public void RotateOnNonSpecificEoiMakesTheServicedLevelLowest()
    {
        var p = Initialised();
        Pulse(p, 0); p.Acknowledge();
        p.Master.Out(0, 0xA0); // rotate on non-specific EOI: IRQ 0 now lowest
        Pulse(p, 0); Pulse(p, 5);
        Assert.Equal(0x25, p.Acknowledge());
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        var a = Initialised(masterMask: 0x10);
        Pulse(a, 3); Pulse(a, 11); a.Acknowledge();
        var b = new DualPic8259();
        b.RestoreState(StateJson.RoundTrip(a.SaveState()));
        Assert.Equal(a.SaveState().Master, b.SaveState().Master);
        Pulse(a, 1); Pulse(b, 1);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(a.HasPendingInterrupt, b.HasPendingInterrupt);
            if (a.HasPendingInterrupt) Assert.Equal(a.Acknowledge(), b.Acknowledge());
            a.Master.Out(0, 0x20); b.Master.Out(0, 0x20);
        }
    }
}
