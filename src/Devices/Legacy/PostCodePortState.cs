namespace VmReplay.Devices.Legacy;

/// <summary>State of the POST port.</summary>
public sealed record PostCodePortState(byte LastCode);
