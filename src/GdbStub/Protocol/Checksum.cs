namespace VmReplay.GdbStub.Protocol;

/// <summary>The two-digit checksum that ends every packet: the sum of the bytes between '$' and '#', mod 256.</summary>
public static class Checksum
{
    public static byte Of(ReadOnlySpan<byte> payload)
    {
        byte sum = 0;
        foreach (var b in payload)
            sum += b;
        return sum;
    }
}
