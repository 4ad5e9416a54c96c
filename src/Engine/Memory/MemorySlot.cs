namespace VmReplay.Engine.Memory;

/// <summary>
/// One KVM memory slot covering part of a <see cref="GuestMemoryRegion"/>: pages
/// [<paramref name="FirstPage"/>, +<paramref name="PageCount"/>) of it.
/// </summary>
public readonly record struct MemorySlot(uint Slot, ulong FirstPage, ulong PageCount, bool ReadOnly);
