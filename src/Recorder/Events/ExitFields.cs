namespace VmReplay.Recorder.Events;

/// <summary>
/// An exit's fingerprint as values (the members of <see cref="ExitEvent"/>), its data borrowed
/// from where it was read: how a recording appends an exit and a batch is read, without an
/// object for each.
/// </summary>
public readonly ref struct ExitFields(uint reason, ulong rip, ulong address, byte size, byte flags, uint count, ReadOnlySpan<byte> data, long? instructions)
{
    public uint Reason { get; } = reason;
    public ulong Rip { get; } = rip;
    public ulong Address { get; } = address;
    public byte Size { get; } = size;
    public byte Flags { get; } = flags;
    public uint Count { get; } = count;
    public ReadOnlySpan<byte> Data { get; } = data;
    /// <summary>See <see cref="ExitEvent.Instructions"/>.</summary>
    public long? Instructions { get; } = instructions;

    public ExitEvent ToEvent() => new(Reason, Rip, Address, Size, Flags, Count, ExitEvent.DataOf(Data)) { Instructions = Instructions };

    public static ExitFields Of(ExitEvent e) => new(e.Reason, e.Rip, e.Address, e.Size, e.Flags, e.Count, e.Data, e.Instructions);
}
