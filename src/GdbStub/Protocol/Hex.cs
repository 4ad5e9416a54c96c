namespace VmReplay.GdbStub.Protocol;

/// <summary>The protocol's hex encodings: byte strings as pairs of digits, numbers as bare digits.</summary>
public static class Hex
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static bool TryDecode(ReadOnlySpan<char> hex, out byte[] bytes)
    {
        bytes = [];
        if (hex.Length % 2 != 0)
            return false;
        var result = new byte[hex.Length / 2];
        for (var i = 0; i < result.Length; i++)
        {
            var high = DigitValue(hex[2 * i]);
            var low = DigitValue(hex[2 * i + 1]);
            if (high < 0 || low < 0)
                return false;
            result[i] = (byte)(high << 4 | low);
        }
        bytes = result;
        return true;
    }

    /// <summary>Digits only: no sign, no "0x", at most 16 digits so the value cannot overflow.</summary>
    public static bool TryParseUInt64(ReadOnlySpan<char> hex, out ulong value)
    {
        value = 0;
        if (hex.IsEmpty || hex.Length > 16)
            return false;
        ulong result = 0;
        foreach (var c in hex)
        {
            var digit = DigitValue(c);
            if (digit < 0)
                return false;
            result = result << 4 | (uint)digit;
        }
        value = result;
        return true;
    }

    /// <summary>The value of one hex digit in either case, or -1.</summary>
    public static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
