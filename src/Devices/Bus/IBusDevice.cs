namespace VmReplay.Devices.Bus;

/// <summary>
/// A device as a bus sees it: it is handed accesses by offset within the range it was
/// registered at, never by absolute port or address, so one model serves any base.
/// </summary>
public interface IBusDevice
{
    /// <summary>Fills <paramref name="data"/> (1, 2, 4 or 8 bytes, little endian).</summary>
    void Read(ulong offset, Span<byte> data);

    void Write(ulong offset, ReadOnlySpan<byte> data);
}
