namespace VmReplay.Devices.Legacy;

/// <summary>State of a <see cref="PostCodePort"/>.</summary>
public sealed record PostCodePortState
{
    public byte LastCode { get; init; }

    /// <summary>The last POST code written, in hex as POST cards show it.</summary>
    public string Describe() => $"last code {LastCode:x2}";
}
