namespace VmReplay.Devices.Pci;

/// <summary>A PCI function's bus/device/function number (bus 0-255, device 0-31, function 0-7).</summary>
public readonly record struct PciAddress
{
    public PciAddress(int bus, int device, int function)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)bus, 255u, nameof(bus));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)device, 31u, nameof(device));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)function, 7u, nameof(function));
        Bus = bus;
        Device = device;
        Function = function;
    }

    public int Bus { get; }
    public int Device { get; }
    public int Function { get; }

    public override string ToString() => $"{Bus:x2}:{Device:x2}.{Function}";
}
