using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// The POST diagnostic port 0x80. Guests also write it as an I/O delay. It remembers the last
/// code and reads it back, as many chipsets do.
/// </summary>
public sealed class PostCodePort : IBusDevice, IStatefulDevice<PostCodePortState>
{
    public byte LastCode { get; private set; }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(0);
        data[0] = LastCode;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data) => LastCode = data[0];

    public PostCodePortState SaveState() => new(LastCode);

    public void RestoreState(PostCodePortState state) => LastCode = state.LastCode;
}
