namespace VmReplay.Engine.Emulation;

/// <summary>One memory operand of an instruction: its linear address, size, and whether it is read, written or both.</summary>
public readonly record struct MemoryAccess(ulong Linear, int Size, bool Reads, bool Writes)
{
    /// <summary>Whether it touches any byte of [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>).</summary>
    public bool Overlaps(ulong address, int length) => Linear < address + (ulong)length && address < Linear + (ulong)Size;
}
