namespace VmReplay.Devices.Bus;

/// <summary>The x86 I/O-port space (64 KiB of ports).</summary>
public sealed class IoBus() : DeviceBus("I/O port")
{
    public void Register(ushort basePort, ushort count, string name, IBusDevice device) =>
        Register(new AddressRange(basePort, count), name, device);
}
