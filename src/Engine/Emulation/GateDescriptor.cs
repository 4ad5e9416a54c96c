namespace VmReplay.Engine.Emulation;

/// <summary>
/// A gate descriptor (SDM vol. 3A, 5.8.3 call gates, 6.11 IDT gates, 6.14.1 64-bit IDT gates,
/// 7.2.5 task gates): where a far CALL/JMP or an interrupt goes. <see cref="Low"/> is the first
/// 8 bytes; <see cref="High"/> the second 8 bytes of a 16-byte IA-32e gate (0 for an 8-byte one).
/// </summary>
internal readonly record struct GateDescriptor(ulong Low, ulong High = 0)
{
    public byte Type => (byte)((Low >> 40) & 0xF);
    public bool S => ((Low >> 44) & 1) != 0;
    public int Dpl => (int)((Low >> 45) & 3);
    public bool Present => ((Low >> 47) & 1) != 0;

    /// <summary>The code segment selector (or, for a task gate, the TSS selector).</summary>
    public ushort Selector => (ushort)(Low >> 16);

    /// <summary>The entry point: 16 bits in a 16-bit gate, 32 in a 32-bit gate, 64 in an IA-32e gate.</summary>
    public ulong Offset(int gateBits) => gateBits switch
    {
        16 => Low & 0xFFFF,
        32 => (Low & 0xFFFF) | ((Low >> 48) & 0xFFFF) << 16,
        _ => (Low & 0xFFFF) | ((Low >> 48) & 0xFFFF) << 16 | (High & 0xFFFF_FFFF) << 32,
    };

    /// <summary>A call gate's parameter count: stack entries copied to an inner-level stack (not in IA-32e gates).</summary>
    public int ParameterCount => (int)((Low >> 32) & 0x1F);

    /// <summary>An IA-32e interrupt or trap gate's interrupt-stack-table index (0: none).</summary>
    public int Ist => (int)((Low >> 32) & 7);

    /// <summary>The type field of the upper half of a 16-byte gate, which must be 0.</summary>
    public int HighType => (int)((High >> 40) & 0x1F);
}
