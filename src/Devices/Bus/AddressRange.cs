namespace VmReplay.Devices.Bus;

/// <summary>A half-open range [Base, Base + Length) on a bus.</summary>
public readonly record struct AddressRange(ulong Base, ulong Length)
{
    public ulong End => Base + Length;

    public bool Contains(ulong address) => address >= Base && address - Base < Length;

    public bool Overlaps(AddressRange other) => Base < other.End && other.Base < End;

    public override string ToString() => $"[{Base:x}, {End:x})";
}
