namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// One register of the target description: its remote number (the index in g packets and the
/// argument of p/P), size, gdb type, register group ("" leaves the choice to gdb) and feature.
/// </summary>
public sealed record RegisterInfo(int Number, string Name, int BitSize, string Type, string Group, string Feature)
{
    public int ByteSize => BitSize / 8;
}
