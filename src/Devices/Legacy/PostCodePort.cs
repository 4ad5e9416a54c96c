using VmReplay.Devices.Bus;

namespace VmReplay.Devices.Legacy;

/// <summary>
/// The POST diagnostic port (0x80, one port): firmware writes progress codes to it, and kernels
/// write it as a short I/O delay. It keeps the last byte written and reads it back, as many
/// chipsets latch it (the IBM PC/AT's DMA page register at this address reads back too).
/// </summary>
public sealed class PostCodePort : IBusDevice, IStatefulDevice<PostCodePortState>
{
    /// <summary>The last code written (0 until the first write).</summary>
    public byte LastCode { get; private set; }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = LastCode;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data) => LastCode = data[0];

    public PostCodePortState SaveState() => new() { LastCode = LastCode };

    public void RestoreState(PostCodePortState state) => LastCode = state.LastCode;
}
