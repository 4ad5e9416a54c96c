namespace VmReplay.Devices.Legacy;

/// <summary>State of a <see cref="PostCodePort"/>.</summary>
public sealed record PostCodePortState
{
    public byte LastCode { get; init; }
}
