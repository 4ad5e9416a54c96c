namespace VmReplay.Devices;

/// <summary>
/// An interrupt request wire from a device to the interrupt controller. Devices drive the
/// level; the controller decides what an edge or a level means (the 8259A here is edge-triggered).
/// </summary>
public interface IIrqLine
{
    void SetLevel(bool high);
}
