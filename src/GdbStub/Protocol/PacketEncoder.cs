namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// Frames a payload as <c>$payload#cc</c>: escapes the four bytes that would break framing and
/// optionally run-length encodes it. See the GDB manual, "Remote Protocol" → "Overview".
/// </summary>
public static class PacketEncoder
{
    public const byte EscapeByte = (byte)'}';
    public const byte EscapeXor = 0x20;
    public const byte RunMarker = (byte)'*';

    // A count character is repeats + 29 and must be printable; '~' (126) is the highest.
    private const int CountBias = 29;
    private const int MaxRepeats = 126 - CountBias;
    // Below three repeats the "X*N" form is no shorter than the run itself.
    private const int MinRepeats = 3;

    public static byte[] Encode(ReadOnlySpan<byte> payload, bool runLength = false)
    {
        var escaped = Escape(payload);
        var body = runLength ? RunLengthEncode(escaped) : escaped;
        var packet = new byte[body.Count + 4];
        packet[0] = (byte)'$';
        body.CopyTo(packet, 1);
        var sum = Checksum.Of(packet.AsSpan(1, body.Count));
        packet[^3] = (byte)'#';
        packet[^2] = (byte)"0123456789abcdef"[sum >> 4];
        packet[^1] = (byte)"0123456789abcdef"[sum & 0xf];
        return packet;
    }

    public static bool NeedsEscape(byte b) => b is (byte)'$' or (byte)'#' or (byte)'}' or (byte)'*';

    private static List<byte> Escape(ReadOnlySpan<byte> payload)
    {
        var escaped = new List<byte>(payload.Length + 8);
        foreach (var b in payload)
        {
            if (NeedsEscape(b))
            {
                escaped.Add(EscapeByte);
                escaped.Add((byte)(b ^ EscapeXor));
            }
            else
            {
                escaped.Add(b);
            }
        }
        return escaped;
    }

    // Runs are found in the escaped bytes, as sent: gdb expands runs before it unescapes, so a
    // run may start on the second byte of an escape pair ("}]]]]" → "}]* ") and still decode.
    private static List<byte> RunLengthEncode(List<byte> escaped)
    {
        var encoded = new List<byte>(escaped.Count);
        var i = 0;
        while (i < escaped.Count)
        {
            var b = escaped[i];
            encoded.Add(b);
            var run = 1;
            while (i + run < escaped.Count && escaped[i + run] == b && run - 1 < MaxRepeats)
                run++;
            var repeats = run - 1;
            while (repeats >= MinRepeats && IsForbiddenCount(repeats))
                repeats--;
            if (repeats >= MinRepeats)
            {
                encoded.Add(RunMarker);
                encoded.Add((byte)(repeats + CountBias));
                i += repeats + 1;
            }
            else
            {
                i++;
            }
        }
        return encoded;
    }

    // '#' and '$' would end or restart the frame; the manual also rules out '+' and '-', which a
    // reader looking for acks could mistake.
    private static bool IsForbiddenCount(int repeats) =>
        (repeats + CountBias) is '#' or '$' or '+' or '-';
}
