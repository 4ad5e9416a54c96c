namespace VmReplay.Devices.Interrupts;

/// <summary>State of the cascaded pair.</summary>
public sealed record DualPic8259State(Pic8259State Master, Pic8259State Slave);
