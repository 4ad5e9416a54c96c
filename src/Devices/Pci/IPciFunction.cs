namespace VmReplay.Devices.Pci;

/// <summary>
/// A PCI function's 256-byte configuration space as <see cref="PciHostBridge"/> reaches it.
/// The function alone decides which bits are writable; the bridge only routes the accesses.
/// </summary>
public interface IPciFunction
{
    /// <summary>The dword at <paramref name="register"/> (a multiple of 4, 0-252), little endian.</summary>
    uint ReadConfig(int register);

    /// <summary>
    /// Writes <paramref name="data"/> (1, 2 or 4 bytes, little endian) at byte <paramref name="offset"/>
    /// (0-255); the bytes never cross a dword boundary.
    /// </summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);
}
