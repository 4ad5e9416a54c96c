using VmReplay.Devices.Interrupts;

namespace VmReplay.Devices.Tests;

/// <summary>One 8259A on its own, in single mode (ICW1 SNGL), as the datasheet programs it.</summary>
public class Pic8259Tests
{
    private readonly Pic8259 _pic = new("test");

    /// <summary>ICW1 (edge, single, ICW4 needed), ICW2 vector base, ICW4 (8086 mode, optionally AEOI).</summary>
    private void Initialise(byte vectorBase = 0x40, bool autoEoi = false)
    {
        _pic.Out(0, 0x13);
        _pic.Out(1, vectorBase);
        _pic.Out(1, (byte)(autoEoi ? 0x03 : 0x01));
    }

    private void Pulse(int irq)
    {
        _pic.SetLevel(irq, true);
        _pic.SetLevel(irq, false);
    }

    /// <summary>A poll-mode acknowledge: OCW3 P=1, then a read gives 0x80 | level.</summary>
    private int Poll()
    {
        _pic.Out(0, 0x0C);
        byte r = _pic.In(0);
        return (r & 0x80) != 0 ? r & 7 : -1;
    }

    [Fact]
    public void SingleModeSkipsIcw3()
    {
        Initialise(vectorBase: 0x47); // T2-T0 are ignored
        Assert.Equal(0x40, _pic.VectorBase);
        _pic.Out(1, 0xF0); // this is OCW1 already: ICW3 was skipped
        Assert.Equal(0xF0, _pic.In(1));
        Assert.False(_pic.IsCascaded);
    }

    [Fact]
    public void WithoutIc4TheSequenceEndsAfterIcw2AndIcw4FunctionsAreCleared()
    {
        Initialise(autoEoi: true);
        _pic.Out(0, 0x12); // ICW1: single, no ICW4
        _pic.Out(1, 0x50);
        _pic.Out(1, 0x00); // OCW1
        Pulse(3);
        Assert.Equal(3, Poll());
        Assert.Equal(0x08, _pic.Isr); // AEOI is off again
    }

    [Fact]
    public void Icw1ClearsMaskAndRequestsAndResetsPriority()
    {
        Initialise();
        _pic.Out(1, 0xFF);
        Pulse(5);
        _pic.Out(0, 0xC4); // set priority: IR4 lowest
        Initialise();
        Assert.Equal(0, _pic.Imr);
        Assert.Equal(0, _pic.Irr);
        Pulse(7); Pulse(0);
        Assert.Equal(0, Poll()); // IR0 highest again
    }

    [Fact]
    public void InitialisationDoesNotTurnALineThatStaysHighIntoANewRequest()
    {
        Initialise();
        _pic.SetLevel(4, true);
        Initialise(); // edge sense reset: the input must go low, then high
        _pic.SetLevel(4, true);
        Assert.False(_pic.InterruptOutput);
        _pic.SetLevel(4, false);
        _pic.SetLevel(4, true);
        Assert.True(_pic.InterruptOutput);
    }

    [Fact]
    public void MaskedRequestsWaitInIrr()
    {
        Initialise();
        _pic.Out(1, 0x04);
        Pulse(2);
        Assert.False(_pic.InterruptOutput);
        Assert.Equal(0x04, _pic.Irr);
        _pic.Out(1, 0x00);
        Assert.True(_pic.InterruptOutput);
    }

    [Fact]
    public void FixedPriorityNestingAndNonSpecificEoi()
    {
        Initialise();
        Pulse(6);
        Assert.Equal(6, Poll());
        Pulse(6);
        Assert.False(_pic.InterruptOutput); // same level in service
        Pulse(2);
        Assert.True(_pic.InterruptOutput);  // higher priority nests
        Assert.Equal(2, Poll());
        Assert.Equal(0x44, _pic.Isr);
        _pic.Out(0, 0x20); // non-specific EOI: the highest in service (IR2)
        Assert.Equal(0x40, _pic.Isr);
        _pic.Out(0, 0x20);
        Assert.Equal(0x00, _pic.Isr);
        Assert.Equal(6, Poll()); // the second IR6 edge was kept
    }

    [Fact]
    public void SpecificEoiClearsTheNamedLevel()
    {
        Initialise();
        Pulse(6); Poll();
        Pulse(1); Poll();
        _pic.Out(0, 0x66); // specific EOI for IR6, though IR1 ranks higher
        Assert.Equal(0x02, _pic.Isr);
    }

    [Fact]
    public void Ocw3SelectsIrrOrIsrAndAnOcw3WithoutRrKeepsTheChoice()
    {
        Initialise();
        Pulse(1); Pulse(3);
        Assert.Equal(0x0A, _pic.In(0)); // IRR after ICW1
        Poll();
        _pic.Out(0, 0x0B); // read ISR
        Assert.Equal(0x02, _pic.In(0));
        _pic.Out(0, 0x08); // RR = 0: no change
        Assert.Equal(0x02, _pic.In(0));
        _pic.Out(0, 0x0A);
        Assert.Equal(0x08, _pic.In(0));
    }

    [Fact]
    public void PollWithNothingPendingReadsZero()
    {
        Initialise();
        _pic.Out(0, 0x0C);
        Assert.Equal(0, _pic.In(0));
        Assert.Equal(0, _pic.In(0)); // the poll is one read only: this is IRR
    }

    [Fact]
    public void AutomaticEoiLeavesNothingInServiceAndCanRotate()
    {
        Initialise(autoEoi: true);
        Pulse(2);
        Assert.Equal(2, Poll());
        Assert.Equal(0, _pic.Isr);
        _pic.Out(0, 0x80); // rotate in AEOI mode
        Pulse(2);
        Assert.Equal(2, Poll()); // IR2 becomes lowest
        Pulse(2); Pulse(5);
        Assert.Equal(5, Poll());
        _pic.Out(0, 0x00); // rotate in AEOI mode off
        Assert.Equal(2, Poll());
    }

    [Fact]
    public void RotateOnNonSpecificEoiMakesTheServicedLevelLowest()
    {
        Initialise();
        Pulse(0); Poll();
        _pic.Out(0, 0xA0);
        Pulse(0); Pulse(5);
        Assert.Equal(5, Poll());
    }

    [Fact]
    public void RotateOnSpecificEoiAndSetPriority()
    {
        Initialise();
        Pulse(3); Poll();
        _pic.Out(0, 0xE3); // rotate on specific EOI 3: IR3 lowest, IR4 highest
        Pulse(3); Pulse(4); Pulse(2);
        Assert.Equal(4, Poll());
        _pic.Out(0, 0x20);
        _pic.Out(0, 0xC1); // set priority: IR1 lowest, IR2 highest
        Assert.Equal(2, Poll());
    }

    [Fact]
    public void SpecialMaskModeLetsLowerLevelsThroughAMaskedInServiceLevel()
    {
        Initialise();
        Pulse(1); Poll(); // IR1 in service
        Pulse(5);
        Assert.False(_pic.InterruptOutput);
        _pic.Out(1, 0x02);  // mask IR1
        _pic.Out(0, 0x68);  // set special mask mode
        Assert.True(_pic.InterruptOutput);
        Assert.Equal(5, Poll());
        _pic.Out(0, 0x48);  // reset special mask mode
        _pic.Out(1, 0x00);
        Assert.Equal(0x22, _pic.Isr);
    }

    [Fact]
    public void InputsOutsideZeroToSevenAreAHostBug()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _pic.SetLevel(8, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => _pic.SetLevel(-1, true));
    }

    [Fact]
    public void SaveRestoreRoundTrip()
    {
        Initialise(autoEoi: false);
        _pic.Out(1, 0x10);
        Pulse(3); Pulse(6); Poll();
        _pic.SetLevel(1, true); // held high
        _pic.Out(0, 0x0B);
        var b = new Pic8259("copy");
        b.RestoreState(StateJson.RoundTrip(_pic.SaveState()));
        Assert.Equal(_pic.SaveState(), b.SaveState());
        foreach (var pic in new[] { _pic, b })
        {
            pic.SetLevel(1, true); // no new edge on either
            pic.SetLevel(4, true);
        }
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(_pic.InterruptOutput, b.InterruptOutput);
            Assert.Equal(_pic.In(0), b.In(0));
            _pic.Out(0, 0x0C); b.Out(0, 0x0C);
            Assert.Equal(_pic.In(0), b.In(0));
            _pic.Out(0, 0x20); b.Out(0, 0x20);
        }
    }

    [Fact]
    public void DescribeNamesTheRegistersAndTheIcwProgramming()
    {
        var master = new Pic8259State { Irr = 0x01, Imr = 0xEA, VectorBase = 0x30, Icw3 = 0x04, Icw4Needed = true };
        Assert.Equal("IRR 01 ISR 00 IMR ea  inputs 00  vector base 0x30  cascade: slave on IR2  ICW4 yes  normal EOI  OCW3 reads IRR  (init done)",
            master.Describe(slave: false));
        var slave = new Pic8259State { Isr = 0x80, VectorBase = 0x38, Icw3 = 0x02, AutoEoi = true, LowestPriority = 3, ReadIsr = true, InitStep = 4 };
        Assert.Equal("IRR 00 ISR 80 IMR 00  inputs 00  vector base 0x38  cascade ID 2  ICW4 no  auto EOI  lowest priority IR3  OCW3 reads ISR  (initialising: expects ICW4)",
            slave.Describe(slave: true));
    }
}
