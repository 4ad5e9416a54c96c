namespace VmReplay.Engine.Memory;

/// <summary>One contiguous run of guest RAM, backed by anonymous host memory and mapped as one KVM slot.</summary>
public sealed unsafe class GuestMemoryRegion
{
    internal GuestMemoryRegion(uint slot, ulong guestBase, ulong size, byte* host)
    {
        Slot = slot;
        GuestBase = guestBase;
        Size = size;
        Host = host;
    }

    public uint Slot { get; }

    public ulong GuestBase { get; }

    public ulong Size { get; }

    public ulong GuestEnd => GuestBase + Size;

    internal byte* Host { get; }

    public nint HostAddress => (nint)Host;

    public bool Contains(ulong gpa) => gpa >= GuestBase && gpa - GuestBase < Size;
}
