namespace VmReplay.Devices.Bus;

/// <summary>A device was registered over a range another device already holds.</summary>
public sealed class BusOverlapException(string message) : Exception(message);
