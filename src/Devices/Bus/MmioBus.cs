namespace VmReplay.Devices.Bus;

/// <summary>Guest-physical addresses not backed by RAM, handled by device models.</summary>
public sealed class MmioBus() : DeviceBus("MMIO");
