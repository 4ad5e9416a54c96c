namespace VmReplay.Engine.Memory;

/// <summary>A guest-physical access touched an address with no RAM behind it.</summary>
public sealed class GuestMemoryException(ulong address, int length)
    : Exception($"guest-physical access {address:x}+{length} is outside guest RAM")
{
    public ulong Address { get; } = address;
}
